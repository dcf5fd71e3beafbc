#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A mutex whose waiters spin briefly, then sleep: glibc's adaptive pthread mutex (not
/// priority-inheriting). `Synchronization.Mutex` on Linux is a priority-inheriting futex, and the
/// kernel spins a waiter for as long as the owner is running; when the store held its lock across
/// a SQLite write, a second writer burnt a whole core spinning (6–7% of the controller's cold
/// start in `perf`). Since commits left the lock (group commit) it is held for microseconds, and
/// a waiter that went straight to sleep paid two futex calls and a context switch each time, with
/// its cooperative thread idle meanwhile: the adaptive kind made the cold start ~10% faster.
final class SleepingMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A mutex whose waiters sleep instead of spinning: a plain (non-priority-inheriting) pthread
/// mutex. `Synchronization.Mutex` on Linux is a priority-inheriting futex, and the kernel spins a
/// waiter for as long as the owner is running; the store holds its lock across a SQLite write
/// (tens of microseconds), so on two cores a second writer burnt a whole core spinning (6–7% of
/// the controller's cold start in `perf`) instead of letting other work run.
final class SleepingMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
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

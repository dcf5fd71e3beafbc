public import KubeClient
public import ModelplaneAPI

extension KubernetesClient {
    /// Waits until the object is gone (a get answers NotFound: its finalizers done); false if it
    /// is still there after `timeout`.
    public func waitUntilGone<Object: KubernetesObject>(
        _ type: Object.Type, name: String, namespace: String? = nil, timeout: Duration = .seconds(30)
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                _ = try await get(type, name: name, namespace: namespace)
            } catch {
                if error.isNotFound { return true }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

import Synchronization

/// Items posted from any thread for an actor to take in, many per hop: the first post
/// after a take says so (the poster then starts the one task that takes them), the others
/// just add to what that task will find. Under load, the work of many requests enters the
/// actor in one hop instead of a task each.
final class Inbox<Item: Sendable>: Sendable {
    private let state = Mutex<(items: [Item], collecting: Bool)>(([], false))

    /// Adds `items`; true when no task is on its way to take them (start one).
    func post(_ items: some Sequence<Item>) -> Bool {
        state.withLock { state in
            state.items.append(contentsOf: items)
            defer { state.collecting = true }
            return !state.collecting
        }
    }

    func post(_ item: Item) -> Bool { post(CollectionOfOne(item)) }

    /// Everything posted so far; the next post starts a new task.
    func take() -> [Item] {
        state.withLock { state in
            defer { state = ([], false) }
            return state.items
        }
    }
}

/// One sorted queue for many timers: a binary min-heap of (deadline, id). Entries are
/// never removed early; when an entry pops, its owner checks whether the deadline is
/// still the one it wants (lazy cancellation). So 100 000 transactions in flight — or
/// 100 000 subscriptions, or mailboxes waiting for their NOTIFY — cost 100 000 small
/// heap entries and one scheduled wake-up, not 100 000 timers.
///
/// Deadlines are plain integers (nanoseconds of whatever clock the owner uses).
public struct TimerQueue<ID: Sendable>: Sendable {
    public struct Entry: Sendable {
        public var deadline: Int64
        public var id: ID
    }

    private var heap: [Entry] = []

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    public var earliest: Int64? { heap.first?.deadline }

    public mutating func schedule(_ id: ID, at deadline: Int64) {
        heap.append(Entry(deadline: deadline, id: id))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].deadline < heap[parent].deadline else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the entries due at `now`, earliest first.
    public mutating func popDue(now: Int64) -> [Entry] {
        var due: [Entry] = []
        while let first = heap.first, first.deadline <= now {
            due.append(first)
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown(0)
            }
        }
        return due
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    public mutating func popFirst(dueAt now: Int64) -> Entry? {
        guard let first = heap.first, first.deadline <= now else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return first
    }

    /// Drops every entry `isStale` says is no longer wanted (to bound memory when many
    /// entries were superseded), keeping the heap order.
    public mutating func compact(removing isStale: (Entry) -> Bool) {
        heap.removeAll(where: isStale)
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < n, heap[l].deadline < heap[smallest].deadline { smallest = l }
            if r < n, heap[r].deadline < heap[smallest].deadline { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}

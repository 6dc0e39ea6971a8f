/// One sorted queue for every transaction timer: a binary min-heap of (deadline, id).
/// Entries are never removed early; when an entry pops, its owner checks whether the
/// deadline is still the one it wants (lazy cancellation). So 100 000 transactions in
/// flight cost 100 000 small heap entries and one scheduled wake-up, not 100 000 timers.
struct TimerQueue: Sendable {
    struct Entry: Sendable, Equatable {
        var deadline: Int64
        var id: UInt64
    }

    private var heap: [Entry] = []

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var earliest: Int64? { heap.first?.deadline }

    mutating func schedule(_ id: UInt64, at deadline: Int64) {
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
    mutating func popDue(now: Int64) -> [Entry] {
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

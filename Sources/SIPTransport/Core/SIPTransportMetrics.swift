import Metrics

/// Counters of the SIP layer (swift-metrics; exported by whichever backend the process
/// bootstraps, Prometheus in mwid).
struct SIPTransportMetrics {
    enum DropReason: String, CaseIterable {
        case unparseable, unmatchedResponse = "unmatched_response", connectionLimit = "connection_limit"
        case streamError = "stream_error", slowPeer = "slow_peer"
    }

    let clientTransactionsStarted = Counter(label: "mwid_sip_client_transactions_total")
    let serverTransactionsStarted = Counter(label: "mwid_sip_server_transactions_total")
    let retransmissionsSent = Counter(label: "mwid_sip_retransmissions_sent_total")
    let retransmissionsReceived = Counter(label: "mwid_sip_retransmissions_received_total")
    let timeouts = Counter(label: "mwid_sip_transaction_timeouts_total")
    let transportErrors = Counter(label: "mwid_sip_transport_errors_total")
    let badRequestsAnswered = Counter(label: "mwid_sip_bad_requests_answered_total")
    /// ICMP port unreachable heard from a watched UDP peer.
    let unreachableReports = Counter(label: "mwid_sip_udp_port_unreachable_total")
    private let drops: [DropReason: Counter] = Dictionary(uniqueKeysWithValues: DropReason.allCases.map {
        ($0, Counter(label: "mwid_sip_dropped_total", dimensions: [("reason", $0.rawValue)]))
    })

    func dropped(_ reason: DropReason) {
        drops[reason]?.increment()
    }
}

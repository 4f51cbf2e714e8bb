// The transfer engine: one thread per plugin instance driving libcurl's multi interface, so a
// channel's HTTP requests or SMTP submissions run concurrently over kept-alive connections
// without blocking leadd's threads.
//
// Trusts: libcurl for the protocols (HTTP/1.1, HTTP/2, SMTP with STARTTLS and AUTH).
// Tunables: TransportSettings (transfers in flight, timeouts, TLS trust).
// Threads: `submit` and `shutdown` are called from any thread; everything else runs on the
// engine's own thread, which alone touches the curl handles.
internal import CCurl
import Foundation
import LeaddSync

public final class TransferEngine: @unchecked Sendable {
    public typealias Completion = @Sendable (TransferResponse) -> Void

    private struct Inbox {
        var pending: [(TransferRequest, Completion)] = []
        var stopping = false
    }

    private let settings: TransportSettings
    private let multi: UnsafeMutableRawPointer
    private let inbox = Locked(Inbox())
    private let stopped = DispatchSemaphore(value: 0)
    // Engine-thread state.
    private var waiting: [(TransferRequest, Completion)] = []
    private var waitingHead = 0
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var idle: [UnsafeMutableRawPointer] = []

    public init(settings: TransportSettings, name: String) {
        CurlLibrary.initialize()
        self.settings = settings
        multi = curl_multi_init()
        _ = leadd_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, settings.connections)
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues a transfer; `completion` runs exactly once, on the engine's thread.
    public func submit(_ request: TransferRequest, completion: @escaping Completion) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopping else { return false }
            inbox.pending.append((request, completion))
            return true
        }
        guard accepted else { return completion(.aborted("the channel is shutting down")) }
        curl_multi_wakeup(multi)
    }

    /// Ends every transfer not yet finished (as aborted) and stops the thread.
    public func shutdown() {
        let first = inbox.withLock { inbox in
            defer { inbox.stopping = true }
            return !inbox.stopping
        }
        guard first else { return }
        curl_multi_wakeup(multi)
        stopped.wait()
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let (arrived, stopping) = inbox.withLock { inbox in
                defer { inbox.pending.removeAll(keepingCapacity: true) }
                return (inbox.pending, inbox.stopping)
            }
            if stopping { break }
            waiting.append(contentsOf: arrived)
            startWaiting()
            curl_multi_perform(multi, &running)
            collectFinished()
            if waitingHead < waiting.count && active.count < settings.connections { continue }
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
        abandonAll()
        stopped.signal()
    }

    private func startWaiting() {
        while waitingHead < waiting.count && active.count < settings.connections {
            let (request, completion) = waiting[waitingHead]
            waitingHead += 1
            let handle = idle.popLast() ?? curl_easy_init()!
            let transfer = Transfer(request: request, completion: completion)
            transfer.configure(handle, settings: settings)
            active[handle] = transfer
            curl_multi_add_handle(multi, handle)
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let code = leadd_curl_message_result(message)
            curl_multi_remove_handle(multi, handle)
            guard let transfer = active.removeValue(forKey: handle) else { continue }
            let response = transfer.response(code: code, handle: handle)
            curl_easy_reset(handle)
            transfer.release()
            idle.append(handle)
            transfer.completion(response)
        }
    }

    private func abandonAll() {
        for (handle, transfer) in active {
            curl_multi_remove_handle(multi, handle)
            curl_easy_cleanup(handle)
            transfer.release()
            transfer.completion(.aborted("the channel stopped before the provider answered"))
        }
        active.removeAll()
        let left = inbox.withLock { $0.pending }
        for (_, completion) in waiting[waitingHead...] + left {
            completion(.aborted("the channel stopped before the message was sent"))
        }
        waiting.removeAll()
        for handle in idle { curl_easy_cleanup(handle) }
        idle.removeAll()
        curl_multi_cleanup(multi)
    }
}

/// curl_global_init is not thread-safe in every libcurl build: run it once, before any handle.
enum CurlLibrary {
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    static func initialize() { _ = initialized }
}

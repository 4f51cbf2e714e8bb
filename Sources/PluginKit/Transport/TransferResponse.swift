/// What came back from one transfer: the provider's reply, or why there was none.
public struct TransferResponse: Sendable {
    /// Set when the transfer did not complete normally. SMTP rejections land here too, with the
    /// server's reply code in `status`.
    public var failure: TransportFailure?
    /// The HTTP status, or the last SMTP reply code; 0 when nothing was received.
    public var status: Int
    /// Response headers by lower-cased name (the last one wins).
    public var headers: [String: String]
    public var body: [UInt8]

    public init(failure: TransportFailure? = nil, status: Int = 0, headers: [String: String] = [:], body: [UInt8] = [])
    {
        self.failure = failure
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    static func aborted(_ reason: String) -> TransferResponse {
        TransferResponse(failure: TransportFailure(kind: .aborted, code: 0, message: reason))
    }
}

/// A transfer that did not end with a normal reply.
public struct TransportFailure: Sendable, Error, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Name not resolved or connection refused: nothing was sent.
        case connect
        /// The provider took too long; the request may or may not have arrived.
        case timeout
        /// TLS could not be set up or the peer's certificate was refused.
        case tls
        /// The server refused our credentials (SMTP AUTH).
        case login
        /// The server answered with a refusal mid-conversation (SMTP MAIL/RCPT/DATA).
        case refused
        /// The connection broke or the reply made no sense.
        case broken
        /// leadd stopped before the transfer finished.
        case aborted
    }

    public var kind: Kind
    /// libcurl's result code, for the log.
    public var code: Int32
    public var message: String

    public var description: String { message }
}

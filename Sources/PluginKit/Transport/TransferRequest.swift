/// One provider call for the transfer engine, in plain values: an HTTP request or an SMTP
/// submission. Secrets in it (passwords, tokens) never leave the engine in errors or logs.
public struct TransferRequest: Sendable {
    public enum Method: Sendable { case get, post }

    public var url: String
    public var method: Method
    /// Header lines, "Name: value".
    public var headers: [String]
    /// The request body (HTTP) or the whole message (SMTP).
    public var body: [UInt8]
    /// HTTP basic auth or SMTP AUTH.
    public var user: String?
    public var password: String?
    /// Present for SMTP: who sends and who receives.
    public var envelope: MailEnvelope?

    public init(
        url: String, method: Method = .post, headers: [String] = [], body: [UInt8] = [], user: String? = nil,
        password: String? = nil, envelope: MailEnvelope? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.user = user
        self.password = password
        self.envelope = envelope
    }
}

/// The SMTP envelope of a submission.
public struct MailEnvelope: Sendable {
    public enum TLS: String, Sendable {
        /// Plain text only (a loopback relay).
        case none
        /// STARTTLS when the server offers it.
        case opportunistic
        /// STARTTLS or fail: the default, since AUTH must not go out in clear.
        case required
    }

    public var from: String
    public var recipients: [String]
    public var tls: TLS
    /// SASL mechanism to insist on ("PLAIN", "LOGIN"); nil lets the server and libcurl agree.
    public var mechanism: String?

    public init(from: String, recipients: [String], tls: TLS, mechanism: String?) {
        self.from = from
        self.recipients = recipients
        self.tls = tls
        self.mechanism = mechanism
    }
}

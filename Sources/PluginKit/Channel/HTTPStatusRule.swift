import PluginAPI

/// What an HTTP status means when the provider's body says nothing more precise. Each plugin's
/// README table starts from this and adds the provider's own error codes.
///
/// | status                 | result                                             |
/// |------------------------|----------------------------------------------------|
/// | 2xx                    | delivered                                          |
/// | 401, 403               | channel unavailable (credentials refused)          |
/// | 404                    | channel unavailable (wrong base URL or account)    |
/// | 429                    | channel unavailable, after Retry-After when given  |
/// | 408, 409, 425          | retry, after Retry-After when given                |
/// | other 4xx              | failed (the provider refused this message)         |
/// | 5xx                    | channel unavailable, after Retry-After when given  |
///
/// 429 and 5xx say the provider (or our account's share of it) is the problem, not the message:
/// "channel unavailable" lets the message wait without using up a try, so a throttling spell or
/// a provider outage never dead-letters anything, and it counts toward the channel's breaker.
public enum HTTPStatusRule {
    public static func result(for response: TransferResponse, detail: String) -> PluginResult {
        let wait = RetryAfter.milliseconds(response.header("retry-after"))
        switch response.status {
        case 200..<300: return .delivered(providerID: nil)
        case 401, 403: return .channelUnavailable("credentials refused: \(detail)", afterMilliseconds: wait)
        case 404: return .channelUnavailable("not found (check base_url and account): \(detail)")
        case 429: return .channelUnavailable(detail, afterMilliseconds: wait)
        case 408, 409, 425: return .retry(detail, afterMilliseconds: wait)
        case 400..<500: return .failed(detail)
        default: return .channelUnavailable(detail, afterMilliseconds: wait)
        }
    }
}

extension TransportFailure {
    /// The result of a transfer that got no usable reply. Timeouts count against the channel's
    /// health: a provider that stops answering is sick, even though this message may have gone.
    public var result: PluginResult {
        switch kind {
        case .aborted, .refused: .retry(message)
        case .connect, .timeout, .tls, .login, .broken: .channelUnavailable(message)
        }
    }
}

internal import CCurl
import Foundation

/// One transfer in flight: the request's bytes, the reply as it arrives, and the C memory that
/// libcurl points into until the transfer ends.
final class Transfer {
    let request: TransferRequest
    let completion: TransferEngine.Completion
    private var sent = 0
    private var received: [UInt8] = []
    private var headers: [String: String] = [:]
    /// A mail server's first refusal ("451 4.7.0 Too many messages"): libcurl hands SMTP replies
    /// to the header callback, and its own error text keeps only the code. Later replies (to
    /// RSET, QUIT) do not replace it.
    private var refusal: String?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var recipientList: UnsafeMutablePointer<curl_slist>?
    private let errorText = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
    // libcurl holds a raw pointer to this object for callbacks; the engine keeps it alive.
    private var unmanaged: Unmanaged<Transfer>?

    init(request: TransferRequest, completion: @escaping TransferEngine.Completion) {
        self.request = request
        self.completion = completion
        errorText[0] = 0
    }

    func configure(_ handle: UnsafeMutableRawPointer, settings: TransportSettings) {
        let this = Unmanaged.passRetained(self)
        unmanaged = this
        let context = this.toOpaque()
        _ = leadd_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = leadd_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps")
        _ = leadd_curl_set_string(handle, CURLOPT_URL, request.url)
        _ = leadd_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorText)
        _ = leadd_curl_set_long(handle, CURLOPT_TIMEOUT_MS, settings.timeoutMilliseconds)
        _ = leadd_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds)
        _ = leadd_curl_set_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = leadd_curl_set_long(handle, CURLOPT_SSL_VERIFYPEER, settings.verifyTLS ? 1 : 0)
        _ = leadd_curl_set_long(handle, CURLOPT_SSL_VERIFYHOST, settings.verifyTLS ? 2 : 0)
        if let ca = settings.caFile { _ = leadd_curl_set_string(handle, CURLOPT_CAINFO, ca) }
        if let user = request.user { _ = leadd_curl_set_string(handle, CURLOPT_USERNAME, user) }
        if let password = request.password { _ = leadd_curl_set_string(handle, CURLOPT_PASSWORD, password) }
        _ = leadd_curl_set_function(handle, CURLOPT_WRITEFUNCTION, receiveBody)
        _ = leadd_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = leadd_curl_set_function(handle, CURLOPT_HEADERFUNCTION, receiveHeader)
        _ = leadd_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
        for line in request.headers { headerList = curl_slist_append(headerList, line) }
        if let envelope = request.envelope {
            configureMail(handle, envelope: envelope, context: context)
        } else {
            configureHTTP(handle)
        }
    }

    private func configureHTTP(_ handle: UnsafeMutableRawPointer) {
        switch request.method {
        case .get:
            _ = leadd_curl_set_long(handle, CURLOPT_HTTPGET, 1)
        case .post:
            _ = leadd_curl_set_long(handle, CURLOPT_POST, 1)
            _ = leadd_curl_set_size(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            request.body.withUnsafeBufferPointer { bytes in
                _ = bytes.withMemoryRebound(to: CChar.self) {
                    leadd_curl_set_pointer(
                        handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                }
            }
            // No "Expect: 100-continue" round trip before small bodies.
            headerList = curl_slist_append(headerList, "Expect:")
        }
        if let headerList { _ = leadd_curl_set_slist(handle, CURLOPT_HTTPHEADER, headerList) }
    }

    private func configureMail(
        _ handle: UnsafeMutableRawPointer, envelope: MailEnvelope, context: UnsafeMutableRawPointer
    ) {
        _ = leadd_curl_set_string(handle, CURLOPT_MAIL_FROM, "<\(envelope.from)>")
        for recipient in envelope.recipients { recipientList = curl_slist_append(recipientList, "<\(recipient)>") }
        _ = leadd_curl_set_slist(handle, CURLOPT_MAIL_RCPT, recipientList)
        let level: curl_usessl =
            switch envelope.tls {
            case .none: CURLUSESSL_NONE
            case .opportunistic: CURLUSESSL_TRY
            case .required: CURLUSESSL_ALL
            }
        _ = leadd_curl_set_long(handle, CURLOPT_USE_SSL, Int(level.rawValue))
        if let mechanism = envelope.mechanism {
            _ = leadd_curl_set_string(handle, CURLOPT_LOGIN_OPTIONS, "AUTH=\(mechanism)")
        }
        _ = leadd_curl_set_long(handle, CURLOPT_UPLOAD, 1)
        _ = leadd_curl_set_size(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count))
        _ = leadd_curl_set_function(handle, CURLOPT_READFUNCTION, sendBody)
        _ = leadd_curl_set_pointer(handle, CURLOPT_READDATA, context)
    }

    func response(code: CURLcode, handle: UnsafeMutableRawPointer) -> TransferResponse {
        let status = leadd_curl_response_code(handle)
        var response = TransferResponse(status: status, headers: headers, body: received)
        if code != CURLE_OK {
            var detail = errorText[0] != 0 ? String(cString: errorText) : String(cString: curl_easy_strerror(code))
            if request.envelope != nil, let reply = refusal, reply.hasPrefix("\(status)") {
                detail += " (\(reply))"
            }
            response.failure = TransportFailure(kind: Self.kind(of: code), code: Int32(code.rawValue), message: detail)
        }
        return response
    }

    /// Frees what libcurl pointed into; the handle must already be out of the multi.
    func release() {
        curl_slist_free_all(headerList)
        curl_slist_free_all(recipientList)
        headerList = nil
        recipientList = nil
        errorText.deallocate()
        unmanaged?.release()
        unmanaged = nil
    }

    static func kind(of code: CURLcode) -> TransportFailure.Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT: .connect
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_USE_SSL_FAILED, CURLE_SSL_CERTPROBLEM:
            .tls
        case CURLE_LOGIN_DENIED: .login
        case CURLE_SEND_ERROR, CURLE_WEIRD_SERVER_REPLY, CURLE_UPLOAD_FAILED, CURLE_QUOTE_ERROR: .refused
        case CURLE_ABORTED_BY_CALLBACK: .aborted
        default: .broken
        }
    }

    fileprivate func append(_ bytes: UnsafeRawBufferPointer) { received.append(contentsOf: bytes) }

    fileprivate func appendHeader(_ line: String) {
        if refusal == nil, let first = line.utf8.first, first == UInt8(ascii: "4") || first == UInt8(ascii: "5"),
            line.utf8.count >= 3, line.utf8.prefix(3).allSatisfy({ (48...57).contains($0) })
        {
            refusal = line.trimmingCharacters(in: [" ", "\t", "\r", "\n"])
        }
        guard let colon = line.firstIndex(of: ":") else {
            if line.hasPrefix("HTTP/") { headers.removeAll() }  // a new response after 100 Continue or a redirect
            return
        }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t", "\r", "\n"])
        headers[name] = value
    }

    fileprivate func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, request.body.count - sent)
        guard count > 0 else { return 0 }
        request.body.withUnsafeBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[sent..<sent + count]))
        }
        sent += count
        return count
    }
}

private func transfer(_ context: UnsafeMutableRawPointer?) -> Transfer {
    Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
}

private let receiveBody: leadd_curl_data_fn = { buffer, size, count, context in
    let length = size * count
    transfer(context).append(UnsafeRawBufferPointer(start: buffer, count: length))
    return length
}

private let receiveHeader: leadd_curl_data_fn = { buffer, size, count, context in
    let length = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    transfer(context).appendHeader(line)
    return length
}

private let sendBody: leadd_curl_data_fn = { buffer, size, count, context in
    transfer(context).fill(UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
}

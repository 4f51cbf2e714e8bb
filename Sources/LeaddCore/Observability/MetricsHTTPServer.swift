// `GET /metrics` over HTTP/1.1 on a loopback port, for Prometheus to scrape. Anything else gets
// 404 or 405; each connection is closed after its answer.
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

public final class MetricsHTTPServer: Sendable {
    public typealias Listener = NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let render: @Sendable () async -> String
    private let logger: Logger

    public init(logger: Logger, render: @escaping @Sendable () async -> String) {
        self.render = render
        self.logger = logger
    }

    public func bind(_ address: ListenAddress) async throws -> Listener {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        logger.info("metrics on http://\(address.host):\(address.port)/metrics")
        return listener
    }

    public func serve(_ listener: Listener) async {
        await withDiscardingTaskGroup { group in
            do {
                try await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.answer(connection) }
                    }
                }
            } catch {
                if !Task.isCancelled { logger.error("metrics endpoint stopped: \(error)") }
            }
        }
    }

    private func answer(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let h): head = h
                case .body: continue
                case .end:
                    guard let head else { return }
                    let (status, body): (HTTPResponseStatus, String)
                    if head.method != .GET {
                        (status, body) = (.methodNotAllowed, "only GET\n")
                    } else if head.uri.split(separator: "?").first != "/metrics" {
                        (status, body) = (.notFound, "try /metrics\n")
                    } else {
                        (status, body) = (.ok, await render())
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                    headers.add(name: "Content-Length", value: String(body.utf8.count))
                    headers.add(name: "Connection", value: "close")
                    try await outbound.write(
                        .head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                    try await outbound.write(.end(nil))
                    return
                }
            }
        }
    }
}

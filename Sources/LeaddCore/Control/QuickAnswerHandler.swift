// Answers `status` and the other in-memory reads on the socket's event loop, so that they stay
// quick while dispatch keeps the task threads busy. Only when nothing sent earlier on the
// connection is still unanswered: responses keep the order of their requests.
import NIOCore

/// What the request side writes to a connection: the answer to one request (nil when it has
/// none, as for a notification), or an event of a subscription.
public enum ControlOutput: Sendable {
    case answer(ByteBuffer?)
    case event(ByteBuffer)
}

final class QuickAnswerHandler: ChannelDuplexHandler {
    typealias InboundIn = ControlFrame
    typealias InboundOut = ControlFrame
    typealias OutboundIn = ControlOutput
    typealias OutboundOut = ByteBuffer

    /// Nil for a connection that is to be refused: everything goes to the request side.
    private let respond: (@Sendable ([UInt8]) -> String?)?
    /// Frames passed on, and answers that came back through here; equal when none is pending.
    private var forwarded = 0
    private var answered = 0

    init(respond: (@Sendable ([UInt8]) -> String?)?) { self.respond = respond }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A client that stops reading is not answered here: its answers would pile up unbounded;
        // the request side stops reading from it instead.
        if forwarded == answered, context.channel.isWritable, let respond,
            case .line(let buffer) = unwrapInboundIn(data),
            buffer.readableBytes <= ControlService.quickLineLimit,
            let text = respond(Array(buffer.readableBytesView))
        {
            context.writeAndFlush(wrapOutboundOut(ControlServer.line(text)), promise: nil)
            return
        }
        forwarded += 1
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .answer(let buffer):
            answered += 1
            if let buffer {
                context.write(wrapOutboundOut(buffer), promise: promise)
            } else {
                promise?.succeed(())
            }
        case .event(let buffer):
            context.write(wrapOutboundOut(buffer), promise: promise)
        }
    }
}

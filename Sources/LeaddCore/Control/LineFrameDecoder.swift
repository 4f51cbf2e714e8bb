// Splits the control stream into lines, with a bound on line length. An overlong line is
// reported once and its remaining bytes are skipped up to the next newline, so the connection
// stays usable and memory stays bounded whatever a client sends.
import NIOCore

public enum ControlFrame: Sendable {
    case line(ByteBuffer)
    /// A line longer than the limit was discarded; `length` counts its bytes.
    case tooLong(length: Int)
}

public struct LineFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ControlFrame

    private let maximumLength: Int
    private var discarding = false
    private var discarded = 0
    /// Bytes of the pending line already searched for a newline, so a long line arriving in
    /// many reads is scanned once, not once per read.
    private var searched = 0

    public init(maximumLength: Int) { self.maximumLength = maximumLength }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        let from = min(searched, view.count)
        let newline = view[(view.startIndex + from)...].firstIndex(of: UInt8(ascii: "\n"))
        searched = newline == nil ? view.count : 0
        if discarding {
            if let newline {
                discarded += newline - buffer.readerIndex
                buffer.moveReaderIndex(to: newline + 1)
                discarding = false
                context.fireChannelRead(wrapInboundOut(.tooLong(length: discarded)))
                discarded = 0
                return .continue
            }
            discarded += buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            searched = 0
            return .needMoreData
        }
        guard let newline else {
            if buffer.readableBytes > maximumLength {
                discarding = true
                discarded = buffer.readableBytes
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                searched = 0
            }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        if length > maximumLength {
            buffer.moveReaderIndex(to: newline + 1)
            context.fireChannelRead(wrapInboundOut(.tooLong(length: length)))
            return .continue
        }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        context.fireChannelRead(wrapInboundOut(.line(line)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A last request without its newline is still answered.
        if !discarding, buffer.readableBytes > 0, buffer.readableBytes <= maximumLength {
            let line = buffer.readSlice(length: buffer.readableBytes)!
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return .needMoreData
    }
}

import NIOCore
import NIOEmbedded
import Testing

@testable import LeaddCore

@Suite struct LineFrameDecoderTests {
    func frames(_ chunks: [String], limit: Int = 16) throws -> [String] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maximumLength: limit)))
        for chunk in chunks { try channel.writeInbound(ByteBuffer(string: chunk)) }
        var out: [String] = []
        while let frame = try channel.readInbound(as: ControlFrame.self) {
            switch frame {
            case .line(let buffer): out.append(String(buffer: buffer))
            case .tooLong(let length): out.append("<too long: \(length)>")
            }
        }
        _ = try channel.finish()
        return out
    }

    @Test func linesSplitAcrossReadsAreJoined() throws {
        #expect(try frames(["ab", "cd\nef", "\r\n", "g", "h\n"]) == ["abcd", "ef", "gh"])
    }

    @Test func anOverlongLineIsReportedOnceAndTheNextLineStillArrives() throws {
        let long = String(repeating: "x", count: 40)
        #expect(try frames([long.prefix(10) + "", String(long.dropFirst(10)) + "\nok\n"]) == ["<too long: 40>", "ok"])
        #expect(try frames([long + "\n", "fine\n"]) == ["<too long: 40>", "fine"])
    }

    @Test func aLineOfExactlyTheLimitIsAccepted() throws {
        let exact = String(repeating: "y", count: 16)
        #expect(try frames([exact + "\n"]) == [exact])
    }
}

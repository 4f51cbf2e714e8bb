import Foundation
import LeaddClient
import LeaddProtocol
import Testing

/// README's bound on copies: a crash sends again at most `batch_size x concurrency` messages of a
/// channel, those handed to the plugin whose outcomes were not yet on disk. A disk that hangs
/// (the fault library holds every write to the store's files while a trigger file exists) must
/// not let more batches go out unrecorded: leadd keeps a batch's slot until its outcomes are
/// stored, so with every slot waiting on the disk nothing more is sent.
extension Integration {
    @Suite struct DuplicateBoundTests {
        @Test func aHungDiskLetsNoMoreThanTheBoundGoOutUnrecorded() throws {
            let batchSize = 10
            let concurrency = 2
            let bound = batchSize * concurrency
            let count = 300
            let daemon = try DaemonProcess(
                channels: """
                      sms:
                        plugin: TestChannel
                        batch_size: \(batchSize)
                        concurrency: \(concurrency)
                        settings:
                          file: "@SENT@"
                          delay_ms: 100
                    """)
            let stall = daemon.directory + "/stall-writes"
            daemon.environment = [
                "LD_PRELOAD": productsDirectory + "/libFaultInjection.so", "LEADD_FAULT_WRITE_STALL": stall,
            ]
            try daemon.start()
            // Due a little later, so they are claimed ahead: sending them needs no further write.
            let at = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3))
            #expect(try daemon.sendBatch(count, keyPrefix: "m", extra: JSONObject(["send_at": .string(at)])) == count)
            #expect(daemon.eventually(timeout: 60) { !daemon.sentLines.isEmpty })

            #expect(FileManager.default.createFile(atPath: stall, contents: Data()))
            #expect(daemon.eventually(timeout: 60) { FileManager.default.fileExists(atPath: stall + ".waiting") })
            let sentAtStall = daemon.sentLines.count
            // Either the bound is reached and no call is under way (nothing more can be handed
            // over), or sending goes on past the bound while nothing is recorded.
            var heldBack = false
            #expect(
                try daemon.eventually(timeout: 60) {
                    let batches = try daemon.call("channel.list").arrayValue?.first?["batches"]
                    let unrecorded = batches?["unrecorded"]?.int64Value ?? 0
                    let calling = batches?["calling"]?.int64Value ?? 0
                    heldBack = unrecorded == Int64(bound) && calling == 0
                    return heldBack || daemon.sentLines.count > sentAtStall + 3 * bound
                })
            #expect(heldBack, "sending went on while the disk hung")
            daemon.kill9()

            // Restarted on a disk that works: every message goes out, and only the unrecorded twice.
            try FileManager.default.removeItem(atPath: stall)
            daemon.environment = [:]
            try daemon.start()
            #expect(try daemon.allSent(count, timeout: 60))
            let keys = daemon.sentRecords.compactMap { $0["key"]?.stringValue }
            #expect(Set(keys).count == count)
            #expect(keys.count - count <= bound, "\(keys.count - count) sent twice; the bound is \(bound)")
        }
    }
}

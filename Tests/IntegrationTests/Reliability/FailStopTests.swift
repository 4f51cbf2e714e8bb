import Foundation
import LeaddClient
import LeaddProtocol
import Testing

/// A disk that fails a sync (the fault library, preloaded into a real leadd, makes fdatasync and
/// fsync fail with EIO while a trigger file exists): leadd acknowledges nothing more, sends
/// nothing it stored after the failure, and exits 74 for systemd to restart it.
extension Integration {
    @Suite struct FailStopTests {
        @Test func aFailedSyncStopsLeaddWithoutAcknowledgingOrSending() throws {
            let daemon = try DaemonProcess()
            let trigger = daemon.directory + "/fail-sync"
            daemon.environment = [
                "LD_PRELOAD": productsDirectory + "/libFaultInjection.so", "LEADD_FAULT_SYNC": trigger,
            ]
            try daemon.start()
            let before = try daemon.call("message.send", sendParams(key: "before"))
            #expect(before["id"] != nil)
            #expect(try daemon.allSent(1))

            #expect(FileManager.default.createFile(atPath: trigger, contents: Data()))
            let client = try daemon.client()
            var refused: ClientError?
            do {
                _ = try client.call("message.send", sendParams(key: "after"))
            } catch {
                refused = error
            }
            // Not acknowledged: an error that says the outcome is unknown, or the connection closed.
            switch refused {
            case .refused(_, let message, _)?:
                #expect(message.contains("unknown"), "\(message)")
            case .unreachable?:
                break
            default:
                Issue.record("a request was acknowledged after the disk failed a sync: \(String(describing: refused))")
            }
            let status = daemon.waitForExit(timeout: 20)
            #expect(status == 74, "leadd did not stop after a failed sync (status \(String(describing: status)))")
            #expect(daemon.log.contains("storage failed"), "\(daemon.log.suffix(1_000))")
            // Nothing stored after the failure went out from that process.
            #expect(daemon.sentRecords.compactMap { $0["key"]?.stringValue } == ["before"])

            // Restarted on a healthy disk, it serves again from what the file holds.
            try FileManager.default.removeItem(atPath: trigger)
            try daemon.start()
            #expect(try daemon.call("message.send", sendParams(key: "later"))["id"] != nil)
        }
    }
}

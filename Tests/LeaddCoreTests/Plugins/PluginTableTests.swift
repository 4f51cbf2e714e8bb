import Foundation
import PluginAPI
import Testing

@testable import LeaddCore

/// The host accepts every table at least as large as an ABI 1.0 table, however many fields later
/// minor versions append, and reads the fields a plugin's table does not reach as absent.
@Suite struct PluginTableTests {
    let file = PluginLoader.resolve("BadABIPlugin", directory: buildProductsDirectory())
    let services = PluginHostServices(log: { _, _ in }, nowMilliseconds: { 42 })
    /// An ABI 1.0 table on a 64-bit system: three uint32_t, padding, four pointers, four functions.
    static let size1_0 = 80

    /// The table the C test plugin returns from `symbol` (one of its test entries, see bad_abi.h).
    func table(from symbol: String) throws(PluginRefusal) -> PluginTable {
        let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
        guard let handle, let entry = dlsym(handle, symbol) else {
            throw PluginRefusal(description: "test setup: \(file) has no \(symbol)")
        }
        return try PluginTable(entry: UnsafeRawPointer(entry), file: file)
    }

    @Test func theABI1_0SizeIsFixedByThe1_0Layout() {
        #expect(MemoryLayout<UnsafeRawPointer>.size == 8, "the sizes below are those of a 64-bit system")
        #expect(PluginTable.minimumSize == Self.size1_0)
    }

    @Test func aTableOfTheABI1_0SizeIsAcceptedAndWorks() async throws {
        let table = try table(from: "bad_abi_entry_v1_0")
        #expect(table.name == "c-test")
        #expect(table.abiMajor == 1 && table.abiMinor == 0)
        let instance = try PluginInstance(table: table, settingsJSON: "{}", services: services)
        #expect(await Self.sendOne(through: instance) == [.failed])
        instance.shutdown()
    }

    /// One message through the C test plugin, which fails every message it is given: the
    /// outcomes show the call went through the table and back.
    static func sendOne(through instance: PluginInstance) async -> [PluginOutcome] {
        await instance.send([
            OutboundMessage(
                id: "1", idempotencyKey: "k", tenant: "t", to: "+1", contentJSON: "{}", dueAtMilliseconds: 1,
                attempt: 1)
        ]).map(\.outcome)
    }

    @Test func aTableSmallerThanABI1_0IsRefusedWithBothSizes() {
        #expect {
            _ = try table(from: "bad_abi_entry_one_short")
        } throws: { error in
            "\(error)"
                == "plugin \(file) has ABI 1.0 but its table is \(Self.size1_0 - 1) bytes, smaller than the \(Self.size1_0) bytes of an ABI 1.0 table"
        }
    }

    @Test func aTableFromALaterMinorVersionIsAccepted() throws {
        let table = try table(from: "bad_abi_entry_later_minor")
        #expect(table.name == "c-test")
        #expect(table.abiMinor == 1)
    }
}

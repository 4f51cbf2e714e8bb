// Imports leads into a one-step campaign through `lead.import`, in batches of 1,000 rows over
// several connections, due far in the future so dispatch stays out of the measurement.
import Foundation
import LeaddClient
import LeaddProtocol

struct LeadImportProbe {
    let socket: String
    let leads: Int
    let connections: Int

    /// Leads per second.
    func run() throws -> Double {
        let client = try ControlClient(socketPath: socket)
        let steps = try JSONValue.parse(#"[{"channel": "bench", "template": {"text": "Olá {{name}}"}}]"#)
        _ = try client.call(
            "campaign.create",
            JSONObject([
                "tenant": "acme", "id": "bench-import", "name": "bench", "steps": steps,
                "start_at": "2031-01-01T00:00:00Z",
            ]))
        let perConnection = leads / connections / 1000
        let start = Date()
        try parallel(connections) { c in
            try pipeline(socket: socket, count: perConnection, window: 2) { b in
                let rows = (0..<1000).map { n -> JSONValue in
                    let number = (c * perConnection + b) * 1000 + n
                    return .object(
                        JSONObject([
                            "phone": .string(String(format: "+55119%08d", number)), "name": .string("Lead \(number)"),
                        ]))
                }
                return ControlClient.request(
                    "lead.import", JSONObject(["campaign": "bench-import", "leads": .array(rows)]), id: Int64(b)
                ).serialized
            }
        }
        return Double(perConnection * 1000 * connections) / Date().timeIntervalSince(start)
    }
}

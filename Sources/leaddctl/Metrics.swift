import ArgumentParser
import LeaddProtocol

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print leadd's metrics in Prometheus text format.")
    @OptionGroup var options: CommonOptions

    func run() throws {
        try options.call("metrics") { result in print(result.stringValue ?? "", terminator: "") }
    }
}

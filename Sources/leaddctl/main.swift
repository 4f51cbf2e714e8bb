// leaddctl: drives leadd over its control socket.
// Exit codes: 0 ok, 1 request refused, 2 usage, 3 daemon unreachable.
import ArgumentParser
import Foundation

do {
    var command = try Leaddctl.parseAsRoot()
    try command.run()
} catch let failure as CtlExit {
    exit(failure.code)
} catch {
    let code = Leaddctl.exitCode(for: error)
    if code == .success {
        print(Leaddctl.fullMessage(for: error))
        exit(0)
    }
    FileHandle.standardError.write(Data((Leaddctl.fullMessage(for: error) + "\n").utf8))
    exit(code == .validationFailure ? CtlExit.usage : code.rawValue)
}

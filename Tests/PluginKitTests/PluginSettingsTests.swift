import Foundation
import PluginAPI
import PluginKit
import Testing

@Suite struct PluginSettingsTests {
    @Test func typedValuesAndUnknownKeys() throws {
        var settings = try PluginSettings(
            json: #"{"url":"smtp://x","connections":4,"timeout":"250ms","tls_verify":false,"colour":1}"#)
        #expect(try settings.requiredString("url") == "smtp://x")
        let transport = try TransportSettings(from: &settings)
        #expect(transport.connections == 4)
        #expect(transport.timeoutMilliseconds == 250)
        #expect(transport.verifyTLS == false)
        #expect(throws: PluginSetupError.self) { try settings.finish() }
        do {
            try settings.finish()
        } catch {
            #expect(error.description == "settings: unknown setting 'colour'")
        }
    }

    @Test func errorsNameTheKey() throws {
        var settings = try PluginSettings(json: #"{"connections":0,"timeout":"soon","provider":"pigeon"}"#)
        #expect(throws: PluginSetupError("settings.connections: 0 is out of range 1...1024")) {
            try settings.integer("connections", in: 1...1024)
        }
        #expect(throws: PluginSetupError("settings.timeout: expected a duration such as 250ms, 30s or 5m")) {
            try settings.duration("timeout")
        }
        #expect(throws: PluginSetupError("settings.provider: 'pigeon' is not one of twilio, kannel")) {
            try settings.choice("provider", ["twilio", "kannel"])
        }
        #expect(throws: PluginSetupError("settings.account_sid: required")) {
            try settings.requiredString("account_sid")
        }
        #expect(throws: PluginSetupError.self) { try PluginSettings(json: "[1,2]") }
    }

    @Test func secretsComeFromFilesEnvironmentOrCredentials() throws {
        let directory = NSTemporaryDirectory() + "leadd-secret-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        setenv("LEADD_TEST_SECRET", "from-env", 1)
        setenv("CREDENTIALS_DIRECTORY", directory, 1)
        defer {
            unsetenv("CREDENTIALS_DIRECTORY")
            unsetenv("LEADD_TEST_SECRET")
        }
        var settings = try PluginSettings(
            json: """
                {"a":{"file":"\(directory)/token"},"b":{"env":"LEADD_TEST_SECRET"},"c":{"credential":"token"},
                 "d":"plain-text-secret","e":{"file":"\(directory)/missing"},"f":{"env":"LEADD_TEST_UNSET_VAR"}}
                """)
        #expect(try settings.secret("a") == "s3cret")
        #expect(try settings.secret("b") == "from-env")
        #expect(try settings.secret("c") == "s3cret")
        #expect(
            throws: PluginSetupError(
                "settings.d: give {file: PATH}, {env: NAME} or {credential: NAME}; secrets are not written in the config"
            )
        ) { try settings.secret("d") }
        #expect(throws: PluginSetupError("settings.e: cannot read \(directory)/missing")) { try settings.secret("e") }
        #expect(throws: PluginSetupError("settings.f: environment variable LEADD_TEST_UNSET_VAR is not set")) {
            try settings.secret("f")
        }
    }
}

@Suite struct WireFormatTests {
    @Test func formEncodingEscapesAllButUnreserved() {
        #expect(
            FormEncoding.encode([("To", "+5511987654321"), ("Body", "Olá & até já!")])
                == "To=%2B5511987654321&Body=Ol%C3%A1+%26+at%C3%A9+j%C3%A1%21")
    }

    @Test func retryAfterReadsSecondsAndDates() {
        #expect(RetryAfter.milliseconds("2") == 2000)
        #expect(RetryAfter.milliseconds(" 0 ") == 0)
        #expect(RetryAfter.milliseconds(nil) == nil)
        #expect(RetryAfter.milliseconds("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryAfter.milliseconds("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == 30_000)
    }

    @Test func messageContentReadsEveryField() throws {
        let content = try MessageContent(
            json:
                #"{"text":"t","subject":"s","html":"<b>h</b>","unsubscribe_url":"https://u","template":{"name":"welcome","language":"pt_BR","params":["Ana",3]}}"#
        )
        #expect(content.text == "t")
        #expect(content.subject == "s")
        #expect(content.html == "<b>h</b>")
        #expect(content.unsubscribeURL == "https://u")
        #expect(
            content.template == MessageContent.Template(name: "welcome", language: "pt_BR", parameters: ["Ana", "3"]))
        #expect(throws: MessageProblem.self) { try MessageContent(json: "nope") }
        #expect(throws: MessageProblem.self) { try MessageContent(json: #"{"template":{"language":"en"}}"#) }
    }
}

extension PluginSetupError: Equatable {
    public static func == (a: PluginSetupError, b: PluginSetupError) -> Bool { a.description == b.description }
}

@Suite struct SettingTypesTests {
    @Test func numbersAndBooleansAreToldApart() throws {
        var settings = try PluginSettings(json: #"{"a":1,"b":true,"c":0,"d":false}"#)
        #expect(try settings.integer("a", in: 0...9) == 1)
        #expect(throws: PluginSetupError.self) { try settings.integer("b", in: 0...9) }
        #expect(throws: PluginSetupError.self) { try settings.bool("c") }
        #expect(try settings.bool("d") == false)
    }
}

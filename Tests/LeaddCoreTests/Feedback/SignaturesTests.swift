import Testing

@testable import LeaddCore

@Suite struct SignaturesTests {
    /// The example in Twilio's "Validating requests" guide.
    @Test func twilioSignatureMatchesTwiliosExample() {
        let signature = Signatures.twilio(
            url: "https://mycompany.com/myapp.php?foo=1&bar=2",
            parameters: [
                ("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
                ("From", "+12349013030"), ("To", "+18005551212"),
            ], authToken: "12345")
        #expect(signature == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    }

    /// Computed independently with `openssl dgst -sha256 -hmac app-secret`.
    @Test func whatsappSignatureIsHexHMACSHA256OfTheBody() {
        let body = Array(#"{"object":"whatsapp_business_account"}"#.utf8)
        #expect(
            Signatures.whatsapp(body: body, appSecret: "app-secret")
                == "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923")
        #expect(!Signatures.matches("sha256=0bf7", Signatures.whatsapp(body: body, appSecret: "app-secret")))
        #expect(!Signatures.matches(nil, "x"))
    }

    @Test func unsubscribeTokensNameOneAddressAndCannotBeForged() {
        let token = UnsubscribeToken.make(tenant: "acme", address: "ana@example.org", secret: "s3cret")
        #expect(UnsubscribeToken.read(token, secret: "s3cret")?.address == "ana@example.org")
        #expect(UnsubscribeToken.read(token, secret: "s3cret")?.tenant == "acme")
        #expect(UnsubscribeToken.read(token, secret: "other") == nil)
        let forged = UnsubscribeToken.make(tenant: "acme", address: "bia@example.org", secret: "guess")
        #expect(UnsubscribeToken.read(forged, secret: "s3cret") == nil)
        #expect(!token.contains("/") && !token.contains("+") && !token.contains("="))
    }

    @Test func optOutWordsIgnoreCaseAccentsAndPunctuation() {
        let words = OptOutKeywords(WebhookConfig().optOutKeywords)
        for text in ["SAIR", "sair", " Sair! ", "parar.", "STOP", "Cancelar", "descadastrar"] {
            #expect(words.matches(text), "\(text)")
        }
        for text in ["sair agora", "não quero sair", "stopped", ""] { #expect(!words.matches(text), "\(text)") }
    }

    @Test func formDecodingReadsPlusAndPercent() {
        let pairs = FormDecoding.decode("From=%2B5511987654321&Body=Sair+agora&Empty=&=skip")
        #expect(pairs.map(\.0) == ["From", "Body", "Empty"])
        #expect(pairs.map(\.1) == ["+5511987654321", "Sair agora", ""])
    }
}

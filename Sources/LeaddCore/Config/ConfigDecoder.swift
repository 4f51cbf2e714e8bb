import Foundation
// Decodes leadd.yaml into LeaddConfig. Works on Yams' node tree rather than Codable so that every
// error, including a wrong type or an unknown key, carries the line and column of the node at fault.
import LeaddProtocol
import LeaddSecrets
import Yams

public enum ConfigDecoder {
    public static func load(path: String) throws(ConfigError) -> LeaddConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "", reason: "cannot read the file: \(describe(error))")
        }
        return try decode(text, file: path)
    }

    public static func decode(_ text: String, file: String) throws(ConfigError) -> LeaddConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw ConfigError(file: file, key: "", reason: "\(error)")
        }
        var config = LeaddConfig()
        guard let root else { return config }
        let top = try YAMLField(node: root, path: "", file: file).mapping(
            allowed: ["daemon", "store", "channels", "schedules", "tenants", "cache", "webhooks"])
        if let daemon = top["daemon"] { config.daemon = try decodeDaemon(daemon) }
        if let store = top["store"] { config.store = try decodeStore(store) }
        if let channels = top["channels"] {
            var senderChannels: [String: String] = [:]
            for (name, field) in try channels.orderedMapping() {
                let channel = try decodeChannel(name: name, field)
                for sender in channel.senders {
                    if let other = senderChannels[sender.id] {
                        throw field.error("sender '\(sender.id)' is declared twice (under \(other) and \(name))")
                    }
                    senderChannels[sender.id] = name
                }
                config.channels.append(channel)
            }
        }
        if let schedules = top["schedules"] {
            for (name, field) in try schedules.orderedMapping() {
                config.schedules[name] = try decodeSchedule(name: name, field)
            }
        }
        if let cache = top["cache"] {
            let keys = try cache.mapping(allowed: ["ttl", "max_entries"])
            if let f = keys["ttl"] { config.cache.ttl = try f.duration() }
            if let f = keys["max_entries"] { config.cache.maxEntries = try f.int(in: 100...100_000_000) }
        }
        if let tenants = top["tenants"] {
            let senders = Set(config.channels.flatMap { $0.senders.map(\.id) })
            config.tenants = try decodeTenants(tenants, schedules: config.schedules, senders: senders)
        }
        if let webhooks = top["webhooks"] { config.webhooks = try decodeWebhooks(webhooks) }
        return config
    }

    static func decodeDaemon(_ field: YAMLField) throws(ConfigError) -> DaemonConfig {
        var daemon = DaemonConfig()
        let keys = try field.mapping(allowed: [
            "state_dir", "socket", "socket_mode", "socket_group", "access", "plugin_dir", "max_request_bytes",
            "shutdown_grace", "metrics_listen", "status_interval", "max_connections",
        ])
        if let f = keys["state_dir"] { daemon.stateDirectory = try f.nonEmptyString() }
        if let f = keys["socket"] { daemon.socketPath = try f.nonEmptyString() }
        if let f = keys["socket_mode"] { daemon.socketMode = try f.fileMode() }
        if let f = keys["socket_group"] { daemon.socketGroup = try f.groupID() }
        if let f = keys["access"] { daemon.access = try decodeAccess(f) }
        if let f = keys["plugin_dir"] { daemon.pluginDirectory = try f.nonEmptyString() }
        if let f = keys["max_request_bytes"] { daemon.maxRequestBytes = try f.int(in: 1024...(256 << 20)) }
        if let f = keys["max_connections"] { daemon.maxConnections = try f.int(in: 1...100_000) }
        if let f = keys["shutdown_grace"] { daemon.shutdownGrace = try f.duration() }
        if let f = keys["status_interval"] { daemon.statusInterval = try f.duration() }
        if let f = keys["metrics_listen"] { daemon.metricsListen = try f.loopbackAddress() }
        return daemon
    }

    static func decodeWebhooks(_ field: YAMLField) throws(ConfigError) -> WebhookConfig {
        var config = WebhookConfig()
        let keys = try field.mapping(allowed: [
            "listen", "public_url", "max_body_bytes", "twilio_auth_token", "whatsapp_app_secret",
            "whatsapp_verify_token", "kannel_token", "unsubscribe_secret", "channels", "optout_keywords",
        ])
        if let f = keys["listen"] {
            config.listen = try f.loopbackAddress(
                for: "webhooks listen on loopback only (put a reverse proxy in front)")
        }
        config.publicURL = "http://\(config.listen.host):\(config.listen.port)"
        if let f = keys["public_url"] {
            let url = try f.nonEmptyString()
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw f.error("'\(url)' is not an http(s) URL")
            }
            config.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        if let f = keys["max_body_bytes"] { config.maxBodyBytes = try f.int(in: 1024...(16 << 20)) }
        config.twilioAuthToken = try keys["twilio_auth_token"]?.secret()
        config.whatsappAppSecret = try keys["whatsapp_app_secret"]?.secret()
        config.whatsappVerifyToken = try keys["whatsapp_verify_token"]?.secret()
        config.kannelToken = try keys["kannel_token"]?.secret()
        config.unsubscribeSecret = try keys["unsubscribe_secret"]?.secret()
        if let f = keys["channels"] {
            let channels = try f.mapping(allowed: ["twilio", "whatsapp", "kannel"])
            if let c = channels["twilio"] { config.twilioChannel = try c.nonEmptyString() }
            if let c = channels["whatsapp"] { config.whatsappChannel = try c.nonEmptyString() }
            if let c = channels["kannel"] { config.kannelChannel = try c.nonEmptyString() }
        }
        if let f = keys["optout_keywords"] { config.optOutKeywords = try decodeKeywords(f) }
        return config
    }

    /// Opt-out words by language: `{pt: [SAIR, PARAR], en: [STOP]}`.
    static func decodeKeywords(_ field: YAMLField) throws(ConfigError) -> [String: [String]] {
        var words: [String: [String]] = [:]
        for (language, list) in try field.orderedMapping() {
            words[language] = try list.list().map { item throws(ConfigError) in try item.nonEmptyString() }
        }
        return words
    }

    /// `access: {read: {users: [...], groups: [...]}, write: {...}}`, names or numeric ids.
    static func decodeAccess(_ field: YAMLField) throws(ConfigError) -> AccessPolicy {
        var policy = AccessPolicy()
        let levels = try field.mapping(allowed: ["read", "write"])
        for (level, levelField) in levels {
            let lists = try levelField.mapping(allowed: ["users", "groups"])
            var users: Set<UInt32> = []
            var groups: Set<UInt32> = []
            for item in try lists["users"]?.list() ?? [] { users.insert(try item.userID()) }
            for item in try lists["groups"]?.list() ?? [] { groups.insert(try item.groupID()) }
            if level == "read" {
                policy.readUsers = users
                policy.readGroups = groups
            } else {
                policy.writeUsers = users
                policy.writeGroups = groups
            }
        }
        return policy
    }

    static func decodeStore(_ field: YAMLField) throws(ConfigError) -> StoreConfig {
        var store = StoreConfig()
        let keys = try field.mapping(allowed: [
            "kind", "synchronous", "max_batch", "url", "pool", "node", "lease",
        ])
        if let f = keys["kind"] { store.kind = try f.choice(StoreConfig.Kind.self) }
        if let f = keys["synchronous"] { store.synchronous = try f.choice(SyncMode.self) }
        if let f = keys["max_batch"] { store.maxBatch = try f.int(in: 1...100_000) }
        if let f = keys["url"] {
            let url = try f.string()
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw f.error("store url must start with postgres:// or postgresql://")
            }
            store.url = url
        }
        if let f = keys["pool"] { store.pool = try f.int(in: 1...64) }
        if let f = keys["node"] {
            let node = try f.string()
            guard node.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", options: .regularExpression) != nil else {
                throw f.error("store node '\(node)' must be 1-63 letters, digits, '.', '-' or '_'")
            }
            store.node = node
        }
        if let f = keys["lease"] {
            store.lease = try f.duration()
            guard store.lease >= .seconds(1) else { throw f.error("store lease must be at least 1s") }
        }
        let postgresOnly = ["url", "pool", "node", "lease"].filter { keys[$0] != nil }
        switch store.kind {
        case .postgres where store.url == nil:
            throw field.error("store kind postgres needs a url (postgresql://user@host:port/database)")
        case .sqlite where !postgresOnly.isEmpty:
            throw field.error("store \(postgresOnly.joined(separator: ", ")) applies to kind postgres only")
        default:
            break
        }
        return store
    }

    static func decodeChannel(name: String, _ field: YAMLField) throws(ConfigError) -> ChannelConfig {
        guard name.range(of: "^[a-z][a-z0-9_-]{0,31}$", options: .regularExpression) != nil else {
            throw field.error("channel name '\(name)' must be 1-32 lowercase letters, digits, '-' or '_'")
        }
        let keys = try field.mapping(allowed: [
            "plugin", "settings", "batch_size", "concurrency", "rate", "burst", "retry", "breaker", "address",
            "senders", "plugin_timeout",
        ])
        guard let plugin = keys["plugin"] else { throw field.error("missing required key 'plugin'") }
        var channel = ChannelConfig(name: name, plugin: try plugin.string())
        if let f = keys["settings"] {
            guard case .object = try f.json() else { throw f.error("must be a mapping") }
            channel.settingsJSON = try f.json().serialized
        }
        if let f = keys["batch_size"] { channel.batchSize = try f.int(in: 1...10_000) }
        if let f = keys["plugin_timeout"] {
            let timeout = try f.duration()
            guard timeout >= .milliseconds(100), timeout <= .seconds(86_400) else {
                throw f.error("must be between 100ms and 1d")
            }
            channel.pluginTimeout = timeout
        }
        if let f = keys["address"] {
            let word = try f.string()
            guard let kind = AddressKind(rawValue: word) else { throw f.error("'\(word)' is not phone or email") }
            channel.address = kind
        }
        if let f = keys["concurrency"] { channel.concurrency = try f.int(in: 1...10_000) }
        if let f = keys["rate"] { channel.rate = try f.rate() }
        if let f = keys["burst"] { channel.burst = try f.int(in: 1...1_000_000) }
        if let f = keys["retry"] {
            let retry = try f.mapping(allowed: ["initial", "multiplier", "max", "max_attempts", "max_age"])
            if let v = retry["initial"] { channel.retry.initial = try v.duration() }
            if let v = retry["multiplier"] { channel.retry.multiplier = try v.number(in: 1...100) }
            if let v = retry["max"] { channel.retry.max = try v.duration() }
            if let v = retry["max_attempts"] { channel.retry.maxAttempts = try v.int(in: 1...1000) }
            if let v = retry["max_age"] { channel.retry.maxAge = try v.string() == "none" ? nil : v.duration() }
            if channel.retry.max < channel.retry.initial {
                throw (retry["max"] ?? f).error(
                    "max (\(DurationText.format(channel.retry.max))) is shorter than initial")
            }
        }
        if let f = keys["breaker"] {
            let b = try f.mapping(allowed: [
                "failure_rate", "minimum_calls", "window", "open_for", "probes", "fallback_after",
                "consecutive_failures",
            ])
            if let v = b["fallback_after"] { channel.breaker.fallbackAfter = try v.duration() }
            if let v = b["failure_rate"] { channel.breaker.failureRate = try v.fraction() }
            if let v = b["minimum_calls"] { channel.breaker.minimumCalls = try v.int(in: 1...1_000_000) }
            if let v = b["window"] { channel.breaker.window = try v.duration() }
            if let v = b["open_for"] { channel.breaker.openFor = try v.duration() }
            if let v = b["probes"] { channel.breaker.probes = try v.int(in: 1...10_000) }
            if let v = b["consecutive_failures"] { channel.breaker.consecutiveFailures = try v.int(in: 0...1_000_000) }
        }
        if let f = keys["senders"] {
            for (id, s) in try f.orderedMapping() { channel.senders.append(try decodeSender(id: id, channel: name, s)) }
        }
        return channel
    }

    static func decodeSender(id: String, channel: String, _ field: YAMLField) throws(ConfigError) -> Sender {
        guard Sender.isValidID(id) else {
            throw field.error("sender id '\(id)' must be 1-64 letters, digits, '.', '-' or '_'")
        }
        let keys = try field.mapping(allowed: ["settings", "rate", "burst", "concurrency"])
        var sender = Sender(id: id, channel: channel)
        if let f = keys["settings"] {
            guard case .object = try f.json() else { throw f.error("must be a mapping") }
            sender.settingsJSON = try f.json().serialized
        }
        if let f = keys["rate"] { sender.rate = try f.rate() }
        if let f = keys["burst"] { sender.burst = try f.int(in: 1...1_000_000) }
        if let f = keys["concurrency"] { sender.concurrency = try f.int(in: 1...10_000) }
        return sender
    }

    static let weekdays = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    static func decodeSchedule(name: String, _ field: YAMLField) throws(ConfigError) -> SendingWindow {
        let keys = try field.mapping(allowed: ["timezone", "days", "hours"])
        guard let zoneField = keys["timezone"] else { throw field.error("missing required key 'timezone'") }
        let zoneName = try zoneField.string()
        guard let zone = TimeZone(identifier: zoneName) else {
            throw zoneField.error("'\(zoneName)' is not an IANA time zone (like America/Sao_Paulo)")
        }
        var days = Set(1...7)
        if let f = keys["days"] {
            guard case .sequence(let items) = f.node, !items.isEmpty else {
                throw f.error("expected a list of days, like [mon, tue, wed, thu, fri]")
            }
            days = []
            for (index, item) in items.enumerated() {
                let dayField = f.child("\(index)", item)
                let word = try dayField.string().lowercased()
                guard let day = weekdays[String(word.prefix(3))], word.count >= 3 else {
                    throw dayField.error("'\(word)' is not a day (mon, tue, wed, thu, fri, sat, sun)")
                }
                days.insert(day)
            }
        }
        guard let hoursField = keys["hours"] else { throw field.error("missing required key 'hours'") }
        var texts: [(YAMLField, String)] = []
        if case .sequence(let items) = hoursField.node {
            for (index, item) in items.enumerated() {
                let f = hoursField.child("\(index)", item)
                texts.append((f, try f.string()))
            }
        } else {
            texts.append((hoursField, try hoursField.string()))
        }
        var ranges: [SendingWindow.Range] = []
        for (f, text) in texts {
            guard let range = parseHours(text) else {
                throw f.error("'\(text)' is not a time range (expected like 09:00-18:00)")
            }
            ranges.append(range)
        }
        return SendingWindow(name: name, timeZone: zone, days: days, ranges: ranges)
    }

    /// `09:00-18:00` -> minutes after midnight; `24:00` may end a range.
    static func parseHours(_ text: String) -> SendingWindow.Range? {
        let parts = text.split(separator: "-").map { $0.trimmingWhitespace() }
        guard parts.count == 2 else { return nil }
        func minutes(_ s: String) -> Int? {
            let hm = s.split(separator: ":")
            guard hm.count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...24).contains(h), (0...59).contains(m),
                h * 60 + m <= 24 * 60
            else { return nil }
            return h * 60 + m
        }
        guard let start = minutes(parts[0]), let end = minutes(parts[1]), start < end else { return nil }
        return SendingWindow.Range(start: start, end: end)
    }

    static func decodeTenants(
        _ field: YAMLField, schedules: [String: SendingWindow], senders: Set<String> = []
    ) throws(ConfigError) -> TenantsConfig {
        var tenants = TenantsConfig()
        let keys = try field.mapping(allowed: ["defaults", "overrides"])
        if let defaults = keys["defaults"] {
            tenants.defaults = try decodeTenantSettings(
                defaults, over: TenantSettings(), schedules: schedules, senders: senders)
        }
        if let overrides = keys["overrides"] {
            for (id, f) in try overrides.orderedMapping() {
                tenants.overrides[id] = try decodeTenantSettings(
                    f, over: tenants.defaults, schedules: schedules, senders: senders)
            }
        }
        return tenants
    }

    static func decodeTenantSettings(
        _ field: YAMLField, over base: TenantSettings, schedules: [String: SendingWindow], senders: Set<String>
    ) throws(ConfigError) -> TenantSettings {
        var settings = base
        let d = try field.mapping(allowed: [
            "rate", "burst", "weight", "schedule", "timezone", "country", "senders", "optout_keywords",
        ])
        if let f = d["country"] {
            let code = try f.string().uppercased()
            guard PhoneNumbers.isKnownRegion(code) else {
                throw f.error("'\(code)' is not a region code with a numbering plan (like BR, PT, US)")
            }
            settings.country = code
        }
        if let f = d["schedule"] {
            let name = try f.string()
            guard schedules[name] != nil else {
                throw f.error("no schedule '\(name)' (defined: \(schedules.keys.sorted().joined(separator: ", ")))")
            }
            settings.schedule = name
        }
        if let f = d["timezone"] {
            let name = try f.string()
            guard let zone = TimeZone(identifier: name) else { throw f.error("unknown time zone '\(name)'") }
            settings.timeZone = zone
        }
        if let f = d["rate"] {
            // `unlimited` lifts a default rate for one tenant.
            settings.rate = try f.string() == "unlimited" ? nil : try f.rate()
        }
        if let f = d["burst"] { settings.burst = try f.int(in: 1...1_000_000) }
        if let f = d["weight"] { settings.weight = try f.int(in: 1...1000) }
        if let f = d["optout_keywords"] { settings.optOutKeywords = try decodeKeywords(f) }
        if let f = d["senders"] {
            settings.senders = []
            for item in try f.list() {
                let id = try item.string()
                guard senders.contains(id) else {
                    throw item.error(
                        "no sender '\(id)' under any channel's senders (declared: \(senders.sorted().joined(separator: ", ")))"
                    )
                }
                settings.senders.append(id)
            }
        }
        return settings
    }

    static func syntaxError(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // libyaml notices an unclosed bracket or quote only where something else begins,
            // often lines later: the place given is where the construct started (its context
            // mark), and where the parser gave up is said in the reason.
            guard let context, !context.text.isEmpty else {
                return ConfigError(
                    file: file, line: mark.line, column: mark.column, key: "", reason: "YAML syntax: \(problem)")
            }
            let started = context.text.replacingOccurrences(of: "while ", with: "")
            return ConfigError(
                file: file, line: context.mark.line, column: context.mark.column, key: "",
                reason: "YAML syntax: \(started) that starts here: \(problem) at \(mark.line):\(mark.column)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                file: file, line: context.mark.line, column: context.mark.column, key: "",
                reason: "duplicate key \(duplicates.joined(separator: ", "))")
        default:
            return ConfigError(file: file, key: "", reason: "YAML: \(error)")
        }
    }

    static func describe(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}

/// One node of the YAML tree with the key path that leads to it.
struct YAMLField {
    let node: Node
    let path: String
    let file: String

    func error(_ reason: String) -> ConfigError {
        ConfigError(file: file, line: node.mark?.line, column: node.mark?.column, key: path, reason: reason)
    }

    func child(_ key: String, _ node: Node) -> YAMLField {
        YAMLField(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    /// The mapping's fields by key, refusing keys not in `allowed`.
    func mapping(allowed: Set<String>) throws(ConfigError) -> [String: YAMLField] {
        var fields: [String: YAMLField] = [:]
        for (key, field) in try orderedMapping() {
            guard allowed.contains(key) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw ConfigError(
                    file: file, line: field.keyMark?.line, column: field.keyMark?.column, key: field.path,
                    reason: "unknown key '\(key)' (known here: \(known))")
            }
            fields[key] = field
        }
        return fields
    }

    /// The mapping's fields in file order; an empty value (`key:`) counts as an empty mapping.
    func orderedMapping() throws(ConfigError) -> [(String, YAMLField)] {
        if case .scalar = node, isNull { return [] }
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, found \(kind)") }
        var result: [(String, YAMLField)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw ConfigError(
                    file: file, line: key.mark?.line, column: key.mark?.column, key: path, reason: "keys must be text")
            }
            var field = child(scalar.string, value)
            field.keyMark = key.mark
            result.append((scalar.string, field))
        }
        return result
    }

    var keyMark: Mark? {
        get { storedKeyMark ?? node.mark }
        set { storedKeyMark = newValue }
    }
    private var storedKeyMark: Mark?

    init(node: Node, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    var isNull: Bool { node.tag.description == Tag.Name.null.rawValue }

    var kind: String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar: isNull ? "nothing" : "'\(node.scalar?.string ?? "")'"
        }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected text, found \(kind)") }
        return scalar.string
    }

    func nonEmptyString() throws(ConfigError) -> String {
        let s = try string()
        guard !s.isEmpty else { throw error("must not be empty") }
        return s
    }

    func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            throw error("expected a whole number, found \(kind)")
        }
        guard range.contains(value) else {
            throw error("\(value) is out of range (\(range.lowerBound)...\(range.upperBound))")
        }
        return value
    }

    func number(in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
            throw error("expected a number, found \(kind)")
        }
        guard range.contains(value) else {
            throw error("\(value) is out of range (\(range.lowerBound)...\(range.upperBound))")
        }
        return value
    }

    /// `0.5` or `50%`, between 0 (exclusive) and 1.
    func fraction() throws(ConfigError) -> Double {
        let s = try string()
        let value = s.hasSuffix("%") ? Double(s.dropLast()).map { $0 / 100 } : Double(s)
        guard let value, value > 0, value <= 1 else {
            throw error("'\(s)' is not a fraction (expected like 0.5 or 50%)")
        }
        return value
    }

    func duration() throws(ConfigError) -> Duration {
        let s = try string()
        guard let d = DurationText.parse(s) else {
            throw error("'\(s)' is not a duration (expected like 250ms, 30s, 5m, 2h)")
        }
        return d
    }

    func rate() throws(ConfigError) -> Rate {
        let s = try string()
        guard let r = Rate.parse(s) else { throw error("'\(s)' is not a rate (expected like 100/s or 1000/min)") }
        return r
    }

    /// `127.0.0.1:9464`, `[::1]:9464` or `localhost:9464`; anything off the loopback is refused.
    func loopbackAddress(for what: String = "metrics are served on loopback only") throws(ConfigError)
        -> ListenAddress
    {
        let s = try string()
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port)
        else { throw error("'\(s)' is not host:port (like 127.0.0.1:9464)") }
        var host = String(s[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host == "localhost" || host == "::1" || host.hasPrefix("127.") else {
            throw error("'\(host)' is not a loopback address; \(what)")
        }
        return ListenAddress(host: host, port: port)
    }

    /// A secret named by reference ({file: ...}, {env: ...}, {credential: ...}), read now.
    func secret() throws(ConfigError) -> String {
        let value: Any
        switch try json() {
        case .object(let object):
            var plain: [String: Any] = [:]
            for (key, v) in object { plain[key] = v.stringValue ?? "" }
            value = plain
        default:
            value = ""
        }
        do {
            return try SecretReference(value, key: path).read()
        } catch {
            throw self.error(error.description.replacingOccurrences(of: "\(path): ", with: ""))
        }
    }

    /// The items of a list (a single value counts as a list of one).
    func list() throws(ConfigError) -> [YAMLField] {
        if case .sequence(let items) = node { return items.enumerated().map { child("\($0.offset)", $0.element) } }
        return [self]
    }

    /// A user name or a numeric uid, looked up now so a typo stops the start.
    func userID() throws(ConfigError) -> UInt32 {
        let text = try nonEmptyString()
        if let id = UInt32(text) { return id }
        guard let entry = getpwnam(text) else { throw error("no such user '\(text)'") }
        return entry.pointee.pw_uid
    }

    /// A group name or a numeric gid, looked up now.
    func groupID() throws(ConfigError) -> UInt32 {
        let text = try nonEmptyString()
        if let id = UInt32(text) { return id }
        guard let entry = getgrnam(text) else { throw error("no such group '\(text)'") }
        return entry.pointee.gr_gid
    }

    func fileMode() throws(ConfigError) -> UInt32 {
        let s = try string()
        guard let mode = UInt32(s, radix: 8), mode <= 0o777 else {
            throw error("'\(s)' is not an octal file mode (expected like \"0660\")")
        }
        return mode
    }

    func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws(ConfigError) -> T
    where T.RawValue == String {
        let s = try string()
        guard let value = T(rawValue: s) else {
            throw error("'\(s)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// The subtree as JSON, for plugin settings. Plain scalars keep YAML's types; quoted ones are text.
    func json() throws(ConfigError) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain || scalar.style == .any {
                switch node.tag.description {
                case Tag.Name.null.rawValue: return .null
                case Tag.Name.bool.rawValue: if let b = node.bool { return .bool(b) }
                case Tag.Name.int.rawValue: if let i = node.int { return .integer(Int64(i)) }
                case Tag.Name.float.rawValue: if let d = node.float, d.isFinite { return .number(d) }
                default: break
                }
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var array: [JSONValue] = []
            for (index, element) in sequence.enumerated() { array.append(try child("\(index)", element).json()) }
            return .array(array)
        case .mapping:
            var object = JSONObject()
            for (key, field) in try orderedMapping() { object[key] = try field.json() }
            return .object(object)
        case .alias:
            throw error("aliases are not supported")
        }
    }
}

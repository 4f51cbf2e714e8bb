#if canImport(Glibc)
    import Glibc
#endif

/// SplitMix64: a small seeded random generator, so a failing randomized test can be repeated
/// from the seed it printed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The scale of the long-running tests: `LEADD_SOAK=10` runs them ten times as long.
public enum Soak {
    public static let scale: Int = {
        guard let text = getenv("LEADD_SOAK").map({ String(cString: $0) }), let n = Int(text), n > 0 else { return 1 }
        return n
    }()
}

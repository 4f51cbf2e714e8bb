import Testing

@testable import LeaddCore

@Suite struct TTLCacheTests {
    @Test func remembersUntilItsTimeIsUpAndCountsHitsAndMisses() {
        let cache = TTLCache<String, Int>(ttl: .seconds(10), capacity: 100)
        var made = 0
        func get(_ key: String, at now: Int64) -> Int {
            cache.value(for: key, now: now) {
                made += 1
                return made
            }
        }
        #expect(get("a", at: 0) == 1)
        #expect(get("a", at: 9_999) == 1)
        #expect(get("a", at: 10_000) == 2)
        #expect(get("b", at: 10_000) == 3)
        #expect(cache.counts.hits == 1)
        #expect(cache.counts.misses == 3)
        cache.remove("a")
        #expect(get("a", at: 10_001) == 4)
    }

    @Test func neverHoldsMoreThanItsCapacity() {
        let cache = TTLCache<Int, Int>(ttl: .seconds(60), capacity: 100)
        for i in 0..<1_000 { _ = cache.value(for: i, now: 0) { i } }
        #expect(cache.counts.entries <= 100)
        #expect(cache.value(for: 999, now: 1) { -1 } == 999)
    }
}

import Foundation
import ModelplaneAPI
import Testing

@testable import APIServer

@Suite struct TableTests {
    @Test(arguments: [
        (5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (10 * 3600, "10h"), (3 * 86_400 + 3600, "3d1h"),
        (30 * 86_400, "30d"), (800 * 86_400, "2y70d"),
    ])
    func agesReadLikeKubectl(seconds: Int, expected: String) {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let then = now.addingTimeInterval(TimeInterval(-seconds)).formatted(.iso8601)
        #expect(HumanAge.since(then, now: now) == expected)
    }

    @Test func printerColumnPathsReadFiltersAndMembers() throws {
        let object: JSONValue = [
            "spec": ["model": ["name": "fraud"]],
            "status": ["conditions": [["type": "Progressing", "status": "False"], ["type": "Ready", "status": "True"]]],
        ]
        #expect(JSONPathLite(".spec.model.name")?.first(in: object) == "fraud")
        #expect(JSONPathLite(#".status.conditions[?(@.type=="Ready")].status"#)?.first(in: object) == "True")
        #expect(JSONPathLite(".status.phase")?.first(in: object) == nil)
        #expect(JSONPathLite("spec") == nil)
    }
}

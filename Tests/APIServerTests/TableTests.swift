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
            "metadata": ["annotations": ["modelplane.dev/git-commit": "abc123"]],
            "spec": ["model": ["name": "fraud"]],
            "status": ["conditions": [["type": "Progressing", "status": "False"], ["type": "Ready", "status": "True"]]],
        ]
        // An escaped dot belongs to the member's name, as in annotation keys.
        #expect(JSONPathLite(#".metadata.annotations.modelplane\.dev/git-commit"#)?.first(in: object) == "abc123")
        #expect(JSONPathLite(".spec.model.name")?.first(in: object) == "fraud")
        #expect(JSONPathLite(#".status.conditions[?(@.type=="Ready")].status"#)?.first(in: object) == "True")
        #expect(JSONPathLite(".status.phase")?.first(in: object) == nil)
        #expect(JSONPathLite("spec") == nil)
    }
}

import Foundation
import ModelplaneAPI
import Synchronization
import Testing

@testable import ResourceStore

/// A store in a fresh directory, removed when the test's value goes away.
final class ScratchStore {
    let directory: String
    var path: String { directory + "/store.db" }
    private(set) var store: ResourceStore

    init(historyLimit: Int64 = 10_000) throws {
        directory = NSTemporaryDirectory() + "modelplane-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try ResourceStore(path: directory + "/store.db", historyLimit: historyLimit, now: { Date(timeIntervalSince1970: 1_800_000_000) })
    }

    /// Opens the same database again, as a restarted server would.
    func reopen() throws {
        store = try ResourceStore(path: path)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

let md = ResourceType.modelDeployments

func object(_ name: String, version: String = "1", labels: [String: String] = [:], finalizers: [String] = []) -> JSONValue {
    var metadata: JSONValue = ["name": .string(name)]
    if !labels.isEmpty { metadata["labels"] = .object(labels.mapValues(JSONValue.string)) }
    if !finalizers.isEmpty { metadata["finalizers"] = .array(finalizers.map(JSONValue.string)) }
    return [
        "apiVersion": "modelplane.dev/v1alpha1", "kind": "ModelDeployment", "metadata": metadata,
        "spec": ["model": ["name": "m", "version": .string(version)], "backend": ["triton": ["url": "http://127.0.0.1:8000"]]],
        "status": ["phase": "Ready"],
    ]
}

extension JSONValue {
    var resourceVersion: String { self["metadata"]?["resourceVersion"]?.stringValue ?? "" }
    var generation: JSONValue? { self["metadata"]?["generation"] }
}

@Suite struct CreateAndReadTests {
    @Test func createSetsServerFieldsAndDropsStatus() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a"))
        #expect(created["metadata"]?["namespace"] == "default")
        let uid = try #require(created["metadata"]?["uid"]?.stringValue)
        // A random (version 4, RFC 4122 variant) UUID, as kube-apiserver assigns.
        #expect(UUID(uuidString: uid)?.uuidString.lowercased() == uid)
        #expect(Array(uid)[14] == "4" && "89ab".contains(Array(uid)[19]))
        let other = try scratch.store.create(md, namespace: "default", object("b"))
        #expect(other["metadata"]?["uid"]?.stringValue != uid)
        #expect(created["metadata"]?["creationTimestamp"] == "2027-01-15T08:00:00Z")
        #expect(created.generation == 1)
        #expect(created.resourceVersion == "1")
        #expect(created["status"] == nil, "status is the controller's, through /status")
        #expect(try scratch.store.get(md, namespace: "default", name: "a") == created)
    }

    @Test func refusesDuplicatesAndMismatchedNamespaces() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(md, namespace: "default", object("a"))
        #expect(throws: StoreError(code: 409, reason: "AlreadyExists", message: "modeldeployments.modelplane.dev \"a\" already exists")) {
            _ = try scratch.store.create(md, namespace: "default", object("a"))
        }
        var other = object("b")
        other["metadata"]?["namespace"] = "prod"
        #expect { _ = try scratch.store.create(md, namespace: "default", other) } throws: { ($0 as? StoreError)?.code == 400 }
    }

    @Test func generatesNames() throws {
        let scratch = try ScratchStore()
        var template = object("")
        template["metadata"] = ["generateName": "fraud-"]
        let created = try scratch.store.create(md, namespace: "default", template)
        let name = try #require(created["metadata"]?["name"]?.stringValue)
        #expect(name.hasPrefix("fraud-") && name.count == 11)
        #expect { _ = try scratch.store.create(md, namespace: "default", ["metadata": [:]]) } throws: { ($0 as? StoreError)?.code == 422 }
    }

    @Test func getsAnd404s() throws {
        let scratch = try ScratchStore()
        #expect { _ = try scratch.store.get(md, namespace: "default", name: "nope") } throws: { ($0 as? StoreError)?.reason == "NotFound" }
    }
}

@Suite struct UpdateTests {
    /// Objects stored before the schema's defaults existed get them once (a restart of serve runs
    /// this), keeping their generation; a second run changes nothing.
    @Test func defaultsAreStoredOnceInObjectsWithoutThem() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a"))
        #expect(created["spec"]?["rollout"] == nil)
        #expect(try scratch.store.storeAdmissionDefaults(md) == 1)
        let now = try scratch.store.get(md, namespace: "default", name: "a")
        #expect(now["spec"]?["rollout"] == ["strategy": "Immediate", "progressDeadlineSeconds": 600])
        #expect(now["spec"]?["revisionHistoryLimit"] == 10)
        #expect(now.generation == created.generation)
        #expect(try scratch.store.storeAdmissionDefaults(md) == 0)
        #expect(try scratch.store.storeAdmissionDefaults(.leases) == 0)
    }

    @Test func staleOrMissingResourceVersionsAreRefused() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a"))
        var missing = created
        missing["metadata"]?["resourceVersion"] = nil
        #expect { _ = try scratch.store.update(md, namespace: "default", name: "a", missing) } throws: { ($0 as? StoreError)?.code == 422 }
        var changed = created
        changed["spec"]?["model"]?["version"] = "2"
        _ = try scratch.store.update(md, namespace: "default", name: "a", changed)
        #expect { _ = try scratch.store.update(md, namespace: "default", name: "a", changed) } throws: { error in
            let error = error as? StoreError
            return error?.code == 409 && error?.reason == "Conflict" && error?.message.contains("the object has been modified") == true
        }
    }

    /// Updates race from many threads at one resourceVersion: exactly one wins, the others get
    /// 409, and the stored text is the winner's, at the next version.
    @Test func racingUpdatesAtOneVersionHaveOneWinner() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        _ = try store.create(md, namespace: "default", object("a"))
        for round in 0..<20 {
            let current = try store.get(md, namespace: "default", name: "a")
            let outcomes = await withTaskGroup(of: (String, Int).self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var changed = current
                        changed["spec"]?["model"]?["version"] = .string("\(round)-\(writer)")
                        do {
                            let written = try store.update(md, namespace: "default", name: "a", changed)
                            return (written["spec"]?["model"]?["version"]?.stringValue ?? "", 200)
                        } catch {
                            return ("", (error as? StoreError)?.code ?? 0)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1 == 200 }
            #expect(winners.count == 1 && outcomes.filter { $0.1 == 409 }.count == 7, "\(outcomes)")
            let stored = try store.get(md, namespace: "default", name: "a")
            #expect(stored["spec"]?["model"]?["version"]?.stringValue == winners.first?.0)
            #expect(Int(stored.resourceVersion) == Int(current.resourceVersion)! + 1)
            #expect(try store.list(md).items.first?.json == stored.canonicalText)
        }
    }

    @Test func generationCountsSpecChangesOnly() throws {
        let scratch = try ScratchStore()
        var current = try scratch.store.create(md, namespace: "default", object("a"))
        current["metadata"]?["labels"] = ["team": "risk"]
        current = try scratch.store.update(md, namespace: "default", name: "a", current)
        #expect(current.generation == 1)
        #expect(current.resourceVersion == "2")
        current["spec"]?["model"]?["version"] = "2"
        current = try scratch.store.update(md, namespace: "default", name: "a", current)
        #expect(current.generation == 2)
        current["status"] = ["phase": "Progressing", "observedGeneration": 2]
        current = try scratch.store.update(md, namespace: "default", name: "a", current, subresource: .status)
        #expect(current.generation == 2)
        #expect(current["status"]?["phase"] == "Progressing")
    }

    @Test func mainWritesKeepStatusAndStatusWritesKeepSpec() throws {
        let scratch = try ScratchStore()
        var current = try scratch.store.create(md, namespace: "default", object("a"))
        current["status"] = ["phase": "Ready"]
        current = try scratch.store.update(md, namespace: "default", name: "a", current, subresource: .status)
        var sneaky = current
        sneaky["status"] = ["phase": "Failed"]
        sneaky["spec"]?["model"]?["version"] = "9"
        let afterMain = try scratch.store.update(md, namespace: "default", name: "a", sneaky)
        #expect(afterMain["status"]?["phase"] == "Ready")
        #expect(afterMain["spec"]?["model"]?["version"] == "9")
        var statusOnly = afterMain
        statusOnly["spec"]?["model"]?["version"] = "1"
        statusOnly["status"] = ["phase": "Degraded"]
        let afterStatus = try scratch.store.update(md, namespace: "default", name: "a", statusOnly, subresource: .status)
        #expect(afterStatus["spec"]?["model"]?["version"] == "9")
        #expect(afterStatus["status"]?["phase"] == "Degraded")
    }

    @Test func noOpWritesBumpNothingAndEmitNothing() async throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a"))
        var events = try scratch.store.watch(md, from: created.resourceVersion).makeAsyncIterator()
        let same = try scratch.store.update(md, namespace: "default", name: "a", created)
        #expect(same.resourceVersion == created.resourceVersion)
        #expect(scratch.store.resourceVersion == created.resourceVersion)
        var changed = created
        changed["metadata"]?["labels"] = ["x": "y"]
        _ = try scratch.store.update(md, namespace: "default", name: "a", changed)
        let next = await events.next()
        #expect(next?.type == .modified)
        #expect(next?.resourceVersion == 2, "the no-op produced no event before this one")
    }

    @Test func serverOwnedMetadataCannotBeRewritten() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a"))
        var forged = created
        forged["metadata"]?["uid"] = "forged"
        forged["metadata"]?["creationTimestamp"] = "2000-01-01T00:00:00Z"
        forged["metadata"]?["generation"] = 99
        forged["metadata"]?["labels"] = ["changed": "yes"]
        let updated = try scratch.store.update(md, namespace: "default", name: "a", forged)
        #expect(updated["metadata"]?["uid"] == created["metadata"]?["uid"])
        #expect(updated["metadata"]?["creationTimestamp"] == created["metadata"]?["creationTimestamp"])
        #expect(updated.generation == 1)
    }
}

@Suite struct DeleteTests {
    @Test func deletesAndReportsTheLastState() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(md, namespace: "default", object("a"))
        guard case .deleted(let last) = try scratch.store.delete(md, namespace: "default", name: "a") else {
            Issue.record("expected a deletion")
            return
        }
        #expect(last.resourceVersion == "2")
        #expect { _ = try scratch.store.get(md, namespace: "default", name: "a") } throws: { ($0 as? StoreError)?.code == 404 }
    }

    @Test func finalizersHoldTheObjectUntilRemoved() async throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a", finalizers: ["modelplane.dev/cleanup"]))
        var events = try scratch.store.watch(md, from: created.resourceVersion).makeAsyncIterator()
        guard case .pending(let marked) = try scratch.store.delete(md, namespace: "default", name: "a") else {
            Issue.record("expected the finalizer to hold the object")
            return
        }
        #expect(marked["metadata"]?["deletionTimestamp"] == "2027-01-15T08:00:00Z")
        #expect(await events.next()?.type == .modified)
        guard case .pending = try scratch.store.delete(md, namespace: "default", name: "a") else {
            Issue.record("a second delete changes nothing")
            return
        }
        var adding = marked
        adding["metadata"]?["finalizers"] = ["modelplane.dev/cleanup", "other"]
        #expect { _ = try scratch.store.update(md, namespace: "default", name: "a", adding) } throws: { error in
            (error as? StoreError)?.causes.first?.kind == .forbidden
        }
        var released = marked
        released["metadata"]?["finalizers"] = []
        _ = try scratch.store.update(md, namespace: "default", name: "a", released)
        let gone = await events.next()
        #expect(gone?.type == .deleted)
        #expect { _ = try scratch.store.get(md, namespace: "default", name: "a") } throws: { ($0 as? StoreError)?.code == 404 }
    }

    @Test func preconditionsMustMatch() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(md, namespace: "default", object("a"))
        #expect {
            _ = try scratch.store.delete(md, namespace: "default", name: "a", preconditions: .init(uid: "someone-else"))
        } throws: { ($0 as? StoreError)?.code == 409 }
        #expect {
            _ = try scratch.store.delete(md, namespace: "default", name: "a", preconditions: .init(resourceVersion: "999"))
        } throws: { ($0 as? StoreError)?.code == 409 }
        _ = try scratch.store.delete(
            md, namespace: "default", name: "a", preconditions: .init(uid: created["metadata"]?["uid"]?.stringValue, resourceVersion: created.resourceVersion))
    }
}

@Suite struct ListTests {
    @Test func filtersByNamespaceAndSelectors() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(md, namespace: "default", object("a", labels: ["team": "risk"]))
        _ = try scratch.store.create(md, namespace: "default", object("b", labels: ["team": "ops"]))
        _ = try scratch.store.create(md, namespace: "prod", object("c", labels: ["team": "risk"]))
        func names(_ filter: ObjectFilter) throws -> [String] {
            try scratch.store.list(md, filter: filter).items.compactMap { $0.object["metadata"]?["name"]?.stringValue }
        }
        #expect(try names(ObjectFilter()) == ["a", "b", "c"])
        #expect(try names(ObjectFilter(namespace: "default")) == ["a", "b"])
        #expect(try names(ObjectFilter(labels: try LabelSelector(parsing: "team=risk"))) == ["a", "c"])
        #expect(try names(ObjectFilter(fields: try FieldSelector(parsing: "metadata.name!=a"))) == ["b", "c"])
    }

    @Test func pagesCoverEverythingOnceAtOneVersion() throws {
        let scratch = try ScratchStore()
        for i in 0..<23 { _ = try scratch.store.create(md, namespace: "ns\(i % 3)", object(String(format: "md-%02d", i))) }
        var seen: [String] = []
        var token: String?
        var versions = Set<String>()
        repeat {
            let page = try scratch.store.list(md, limit: 5, continueToken: token)
            seen += page.items.compactMap { $0.object["metadata"]?["name"]?.stringValue }
            versions.insert(page.resourceVersion)
            token = page.continueToken
            if token != nil { #expect(page.remainingItemCount != nil) }
            _ = try scratch.store.create(md, namespace: "late", object("late-\(seen.count)"))  // writes between pages
        } while token != nil
        #expect(seen.filter { !$0.hasPrefix("late") }.count == 23)
        #expect(Set(seen).count == seen.count, "no object twice")
        #expect(versions == ["23"], "every page reports the first page's version")
    }

    /// Pages of one namespace, with and without a selector, while keys come and go between
    /// them: each matching object once, in order; how many remain is told only without a
    /// selector, as kube-apiserver does.
    @Test func pagesOfANamespaceWithASelectorWhileKeysComeAndGo() throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        for i in 0..<12 {
            _ = try store.create(md, namespace: i % 2 == 0 ? "a" : "b", object(String(format: "x-%02d", i), labels: ["team": i % 4 == 0 ? "risk" : "ops"]))
        }
        _ = try store.create(md, namespace: "a-b", object("x-00"))  // a namespace that starts like "a"
        func page(_ filter: ObjectFilter, _ token: String?) throws -> StoredList { try store.list(md, filter: filter, limit: 2, continueToken: token) }
        func names(_ list: StoredList) -> [String] { list.items.compactMap { $0.object["metadata"]?["name"]?.stringValue } }

        var first = try page(ObjectFilter(namespace: "a"), nil)
        #expect(names(first) == ["x-00", "x-02"] && first.remainingItemCount == 4)
        _ = try store.delete(md, namespace: "a", name: "x-04")
        _ = try store.create(md, namespace: "a", object("x-03"))
        var rest: [String] = []
        var token = first.continueToken
        while let next = token {
            let list = try page(ObjectFilter(namespace: "a"), next)
            rest += names(list)
            token = list.continueToken
        }
        #expect(rest == ["x-03", "x-06", "x-08", "x-10"], "the key added after the first page comes in order; the deleted one does not")

        let risk = ObjectFilter(namespace: "a", labels: try LabelSelector(parsing: "team=risk"))
        first = try page(risk, nil)
        #expect(names(first) == ["x-00", "x-08"] && first.continueToken == nil && first.remainingItemCount == nil)
        _ = try store.create(md, namespace: "a", object("x-09", labels: ["team": "risk"]))
        first = try page(risk, nil)
        #expect(names(first) == ["x-00", "x-08"] && first.continueToken != nil && first.remainingItemCount == nil)
        #expect(try names(page(risk, first.continueToken)) == ["x-09"])
        #expect(try names(store.list(md, filter: ObjectFilter(namespace: "a-b"))) == ["x-00"])
        #expect(try store.list(md, filter: ObjectFilter(namespace: "c")).items.isEmpty)
    }

    @Test func expiredContinueTokensAre410() throws {
        let scratch = try ScratchStore(historyLimit: 10)
        for i in 0..<5 { _ = try scratch.store.create(md, namespace: "default", object("a\(i)")) }
        let page = try scratch.store.list(md, limit: 2)
        for i in 0..<300 { _ = try scratch.store.create(md, namespace: "default", object("b\(i)")) }
        #expect { _ = try scratch.store.list(md, limit: 2, continueToken: page.continueToken) } throws: { ($0 as? StoreError)?.code == 410 }
    }
}

@Suite struct WatchTests {
    @Test func fromZeroListsThenFollows() async throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(md, namespace: "default", object("a"))
        var events = try scratch.store.watch(md, from: "0").makeAsyncIterator()
        let first = await events.next()
        #expect(first?.type == .added)
        #expect(first?.object["metadata"]?["name"] == "a")
        _ = try scratch.store.create(md, namespace: "default", object("b"))
        #expect(await events.next()?.object["metadata"]?["name"] == "b")
    }

    @Test func fromAVersionReplaysWhatCameAfter() async throws {
        let scratch = try ScratchStore()
        let a = try scratch.store.create(md, namespace: "default", object("a"))
        _ = try scratch.store.create(md, namespace: "default", object("b"))
        _ = try scratch.store.delete(md, namespace: "default", name: "a")
        var events = try scratch.store.watch(md, from: a.resourceVersion).makeAsyncIterator()
        var seen: [String] = []
        for _ in 0..<2 {
            let event = await events.next()
            seen.append("\(event!.type.rawValue) \(event!.object["metadata"]!["name"]!.stringValue!) \(event!.resourceVersion)")
        }
        #expect(seen == ["ADDED b 2", "DELETED a 3"])
    }

    @Test func tooOldVersionsAre410() throws {
        let scratch = try ScratchStore(historyLimit: 10)
        for i in 0..<300 { _ = try scratch.store.create(md, namespace: "default", object("a\(i)")) }
        #expect { _ = try scratch.store.watch(md, from: "5") } throws: { error in
            let error = error as? StoreError
            return error?.code == 410 && error?.reason == "Expired" && error?.message.hasPrefix("too old resource version: 5") == true
        }
        _ = try scratch.store.watch(md, from: "295")
    }

    @Test func theHistoryKeepsExactlyItsLimitAcrossTheRingsWrapAndStartsAgainAfterARestart() async throws {
        // The history is a ring of `historyLimit` entries; replays cross its wrap-around in order
        // and see only their own resource. Like the Kubernetes API server's watch cache, it lives
        // in memory: after a restart, older versions are 410 and clients list again.
        let scratch = try ScratchStore(historyLimit: 7)
        func write(_ i: Int, to store: ResourceStore) throws {
            if i % 5 == 4 {
                _ = try store.create(.leases, namespace: "default", ["metadata": ["name": .string("l\(i)")], "spec": [:]])
            } else {
                _ = try store.create(md, namespace: "default", object("a\(i)"))
            }
        }
        for i in 0..<23 { try write(i, to: scratch.store) }
        func replay(_ store: ResourceStore, from version: Int) async throws -> [Int64] {
            var events = try store.watch(md, from: String(version)).makeAsyncIterator()
            store.emitBookmarks()  // ends the replay below
            var versions: [Int64] = []
            while let event = await events.next(), event.type != .bookmark { versions.append(event.resourceVersion) }
            return versions
        }
        #expect(try await replay(scratch.store, from: 16) == [17, 18, 19, 21, 22, 23], "20 is a Lease")
        #expect(try await replay(scratch.store, from: 22) == [23])
        #expect(try await replay(scratch.store, from: 23) == [])
        #expect(throws: StoreError.self) { _ = try scratch.store.watch(md, from: "15") }

        let store = try ResourceStore(path: scratch.path, historyLimit: 7)
        #expect(throws: StoreError.self) { _ = try store.watch(md, from: "22") }
        #expect(try await replay(store, from: 23) == [])
        for i in 23..<35 { try write(i, to: store) }
        #expect(try await replay(store, from: 28) == [29, 31, 32, 33, 34], "30 and 35 are Leases")
        #expect(throws: StoreError.self) { _ = try store.watch(md, from: "27") }
        #expect(store.resourceVersion == "35")
    }

    @Test func selectorWatchesSeeObjectsEnterAndLeave() async throws {
        let scratch = try ScratchStore()
        var current = try scratch.store.create(md, namespace: "default", object("a", labels: ["team": "ops"]))
        var events = try scratch.store.watch(md, filter: ObjectFilter(labels: try LabelSelector(parsing: "team=risk")), from: current.resourceVersion)
            .makeAsyncIterator()
        current["metadata"]?["labels"] = ["team": "risk"]
        current = try scratch.store.update(md, namespace: "default", name: "a", current)
        #expect(await events.next()?.type == .added)
        current["metadata"]?["labels"] = ["team": "ops"]
        current = try scratch.store.update(md, namespace: "default", name: "a", current)
        #expect(await events.next()?.type == .deleted)
    }

    @Test func namespacesAreIsolated() async throws {
        let scratch = try ScratchStore()
        var events = try scratch.store.watch(md, filter: ObjectFilter(namespace: "prod"), from: scratch.store.resourceVersion).makeAsyncIterator()
        _ = try scratch.store.create(md, namespace: "default", object("a"))
        _ = try scratch.store.create(md, namespace: "prod", object("b"))
        #expect(await events.next()?.object["metadata"]?["name"] == "b")
    }
}

@Suite struct DurabilityTests {
    @Test func aRestartKeepsObjectsAndContinuesVersions() async throws {
        let scratch = try ScratchStore()
        for i in 0..<20 { _ = try scratch.store.create(md, namespace: "default", object("a\(i)")) }
        _ = try scratch.store.delete(md, namespace: "default", name: "a3")
        let before = scratch.store.resourceVersion
        try scratch.reopen()
        #expect(scratch.store.resourceVersion == before)
        let names = try scratch.store.list(md).items.compactMap { $0.object["metadata"]?["name"]?.stringValue }
        #expect(try scratch.store.list(md).items.allSatisfy { $0.json == $0.object.canonicalText })
        #expect(names.count == 19, "\(names)")
        let next = try scratch.store.create(md, namespace: "default", object("after"))
        #expect(Int(next.resourceVersion)! == Int(before)! + 1, "no version is reused")
        #expect(throws: StoreError.self, "the history starts again at a restart") { _ = try scratch.store.watch(md, from: "18") }
        var events = try scratch.store.watch(md, from: before).makeAsyncIterator()
        #expect(await events.next()?.object["metadata"]?["name"] == "after")
    }

    @Test func aStoreFromTheFirstLayoutIsMigratedWithEverythingInIt() async throws {
        // Written with the tables as version 0 created them (objects WITHOUT ROWID, no user_version).
        let scratch = try ScratchStore()
        let path = scratch.directory + "/old.db"
        do {
            let old = try SQLiteDatabase(path: path)
            try old.execute("PRAGMA journal_mode=WAL")
            let stored = (0..<3).map { i -> String in
                var value = object("old\(i)")
                value["metadata"]?["namespace"] = "default"
                value["metadata"]?["resourceVersion"] = .string(String(i + 1))
                return value.canonicalText.replacingOccurrences(of: "'", with: "''")
            }
            try old.execute(
                """
                CREATE TABLE objects (resource TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (resource, key)) WITHOUT ROWID;
                CREATE TABLE history (version INTEGER PRIMARY KEY, resource TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);
                CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO counters VALUES ('resourceVersion', 0), ('compactedThrough', 0);
                """)
            for (i, json) in stored.enumerated() {
                try old.execute(
                    """
                    INSERT INTO objects VALUES ('\(md)', 'default/old\(i)', '\(json)');
                    INSERT INTO history VALUES (\(i + 1), '\(md)', 'ADDED', '\(json)');
                    """)
            }
            // The newest change was a deletion: no object carries its version.
            try old.execute("INSERT INTO history VALUES (4, '\(md)', 'DELETED', '{}')")
        }
        let store = try ResourceStore(path: path)
        #expect(store.resourceVersion == "4", "the deletion's version is kept")
        #expect(try store.list(md).items.map { $0.object["metadata"]?["name"]?.stringValue } == ["old0", "old1", "old2"])
        var updated = try store.get(md, namespace: "default", name: "old1")
        updated["spec"]?["model"]?["version"] = "2"
        #expect(try store.update(md, namespace: "default", name: "old1", updated).resourceVersion == "5")
        #expect(throws: StoreError.self) { _ = try store.watch(md, from: "3") }
        var events = try store.watch(md, from: "4").makeAsyncIterator()
        #expect(await events.next()?.resourceVersion == 5)

        let check = try SQLiteDatabase(path: path)
        let layout = try check.prepare("SELECT sql FROM sqlite_master WHERE name = 'objects'")
        try layout.bind([])
        #expect(try layout.step() && !layout.text(0).contains("WITHOUT ROWID"))
        let history = try check.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'history'")
        try history.bind([])
        #expect(try history.step() && history.integer(0) == 0)
        let version = try check.prepare("PRAGMA user_version")
        try version.bind([])
        #expect(try version.step() && version.integer(0) == Int64(Storage.schemaVersion))
        let reopened = try ResourceStore(path: path)
        #expect(try reopened.get(md, namespace: "default", name: "old1")["spec"]?["model"]?["version"] == "2")
        #expect(try reopened.list(md).items.count == 3)
    }
}

/// Writes are applied in order under the store's lock and committed in batches (group commit):
/// a write's answer holds once its ticket is settled, and nobody sees it before.
@Suite struct GroupCommitTests {
    @Test func writesAreInvisibleUntilCommittedAndLaterWritesCheckAgainstThem() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        var events = try store.watch(md, from: store.resourceVersion).makeAsyncIterator()
        let a = try store.createDeferred(md, namespace: "default", object("a"))
        let b = try store.createDeferred(md, namespace: "default", object("b"))
        #expect(throws: StoreError.self) { try store.get(md, namespace: "default", name: "a") }
        #expect(try store.list(md).items.isEmpty)
        #expect(store.resourceVersion == "0")
        #expect { _ = try store.createDeferred(md, namespace: "default", object("a")) } throws: { ($0 as? StoreError)?.code == 409 }
        #expect(try store.get(md, namespace: "default", name: "a", uncommitted: true).resourceVersion == "1")
        // A write that changes nothing answers with the uncommitted object, so it waits for it too.
        let same = try store.updateDeferred(md, namespace: "default", name: "a", a.value.object)
        #expect(same.value.json == a.value.json)

        try await b.ticket.committed()
        #expect(try store.list(md).items.map(\.json) == [a.value.json, b.value.json])
        #expect(store.resourceVersion == "2")
        try same.ticket.wait()
        try a.ticket.wait()
        #expect(await events.next()?.object["metadata"]?["name"] == "a")
        #expect(await events.next()?.object["metadata"]?["name"] == "b")
        try scratch.reopen()
        #expect(try scratch.store.list(md).items.map(\.json) == [a.value.json, b.value.json])
    }

    /// Many writers at once, waiting without holding threads and on threads of their own: every
    /// write lands at its own version, watchers see them in order, and all of it is on disk.
    @Test func concurrentWritersAllLandInVersionOrder() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        let watch = try store.watch(md, from: store.resourceVersion)
        let versions = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<300 {
                group.addTask {
                    if i % 3 == 0 { return try store.create(md, namespace: "default", object("w\(i)")).resourceVersion }
                    let written = try store.createDeferred(md, namespace: "default", object("w\(i)"))
                    try await written.ticket.committed()
                    return written.value.object.resourceVersion
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(versions) == Set((1...300).map(String.init)))
        var seen: [Int64] = []
        for await event in watch {
            seen.append(event.resourceVersion)
            if seen.count == 300 { break }
        }
        #expect(seen == Array(1...300))
        try scratch.reopen()
        #expect(try scratch.store.list(md).items.count == 300)
        #expect(scratch.store.resourceVersion == "300")
    }

    /// Read-modify-write loops from many threads on one object, retrying on 409, with status
    /// writes between: no increment is lost (writes decided outside the lock are applied only
    /// to the object they were decided from).
    @Test func readModifyWriteLoopsLoseNoUpdate() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        _ = try store.create(md, namespace: "default", object("counter", labels: ["count": "0"]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var done = 0
                    var attempts = 0
                    while done < 25 {
                        attempts += 1
                        var current = try store.get(md, namespace: "default", name: "counter", uncommitted: true)
                        let subresource: ResourceStore.Subresource = (writer + attempts) % 5 == 0 ? .status : .main
                        if subresource == .status {
                            current["status"] = ["phase": .string("w\(writer)-\(attempts)")]
                        } else {
                            let count = Int(current["metadata"]?["labels"]?["count"]?.stringValue ?? "") ?? -1000
                            current["metadata"]?["labels"]?["count"] = .string(String(count + 1))
                        }
                        do {
                            let written = try store.updateDeferred(md, namespace: "default", name: "counter", current, subresource: subresource)
                            try await written.ticket.committed()
                            if subresource == .main { done += 1 }
                        } catch let error as StoreError where error.code == 409 {
                            continue
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try store.get(md, namespace: "default", name: "counter")
        #expect(final["metadata"]?["labels"]?["count"] == "200")
        try scratch.reopen()
        #expect(try scratch.store.get(md, namespace: "default", name: "counter") == final)
    }

    /// Watchers are sent each batch outside the lock; bookmarks asked for meanwhile wait for it,
    /// so a watcher never sees a bookmark ahead of a change it vouches for, nor changes out of
    /// order.
    @Test func bookmarksNeverOvertakeTheChangesTheyVouchFor() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        let watch = try store.watch(md, from: store.resourceVersion)
        let writers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<600 {
                    group.addTask { try await store.createDeferred(md, namespace: "default", object("b\(i)")).ticket.committed() }
                }
                try await group.waitForAll()
            }
        }
        // A thread of its own, asking all the time: it catches the committer between a commit
        // and the sending of that batch.
        let stop = Atomic<Bool>(false)
        let bookmarks = Thread {
            while !stop.load(ordering: .relaxed) { store.emitBookmarks() }
        }
        bookmarks.start()
        var changes = 0
        var bookmarksSeen = 0
        var lastChange: Int64 = 0
        var outOfOrder: [String] = []
        for await event in watch {
            if event.type == .bookmark {
                bookmarksSeen += 1
                if event.resourceVersion != lastChange { outOfOrder.append("a bookmark at \(event.resourceVersion) after change \(lastChange)") }
            } else {
                changes += 1
                if event.resourceVersion != lastChange + 1 { outOfOrder.append("change \(event.resourceVersion) after change \(lastChange)") }
                lastChange = event.resourceVersion
            }
            if changes == 600 { break }
        }
        stop.store(true, ordering: .relaxed)
        try await writers.value
        #expect(outOfOrder.isEmpty, "\(outOfOrder.count) out of order, first: \(outOfOrder.prefix(3))")
        #expect(bookmarksSeen > 0)
    }

    /// A transaction that fails (here a trigger, as a full disk or an I/O error would) fails every
    /// write in it and every write queued after it; nothing of them is seen or stored, what was
    /// committed stays, and the store goes on.
    @Test func aFailedCommitFailsItsWritesAndLosesNothingCommitted() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        let kept = try store.create(md, namespace: "default", object("kept"))
        let early = try store.createDeferred(md, namespace: "default", object("early"))
        try await early.ticket.committed()
        let other = try SQLiteDatabase(path: scratch.path)
        try other.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON objects WHEN NEW.key = 'default/poison' BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
        var events = try store.watch(md, from: store.resourceVersion).makeAsyncIterator()
        let before = try store.createDeferred(md, namespace: "default", object("before"))
        let poison = try store.createDeferred(md, namespace: "default", object("poison"))
        var changed = kept
        changed["spec"]?["model"]?["version"] = "2"
        let update = try store.updateDeferred(md, namespace: "default", name: "kept", changed)
        #expect {
            try poison.ticket.wait()
        } throws: { error in
            let error = error as? StoreError
            return error?.code == 500 && error?.message.contains("injected failure") == true
        }
        for ticket in [before.ticket, update.ticket] {
            await #expect(throws: StoreError.self) { try await ticket.committed() }
        }
        #expect(store.resourceVersion == early.value.object.resourceVersion)
        #expect(try store.list(md).items.map(\.json) == [early.value.json, kept.canonicalText])
        #expect(try store.get(md, namespace: "default", name: "kept", uncommitted: true) == kept)
        try early.ticket.wait()  // committed before the failure, and still so

        let next = try store.create(md, namespace: "default", object("next"))
        #expect(Int(next.resourceVersion) == Int(early.value.object.resourceVersion)! + 1)
        #expect(await events.next()?.object["metadata"]?["name"] == "next")
        try scratch.reopen()
        #expect(try scratch.store.list(md).items.map { $0.object["metadata"]?["name"]?.stringValue } == ["early", "kept", "next"])
    }
}

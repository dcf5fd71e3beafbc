import ModelplaneAPI
import Testing

@Suite struct LabelSelectorTests {
    let labels = ["app": "fraud", "env": "prod", "team": "risk"]

    @Test(arguments: [
        ("app=fraud", true), ("app==fraud", true), ("app=churn", false), ("app!=churn", true), ("app!=fraud", false),
        ("env in (prod, staging)", true), ("env in (staging)", false), ("env notin (staging)", true), ("env notin (prod)", false),
        ("team", true), ("legacy", false), ("!legacy", true), ("!team", false), ("missing!=x", true), ("missing notin (x)", true),
        ("app=fraud,env in (prod,dev),!legacy", true), ("app=fraud,env=dev", false), ("", true),
        ("app.kubernetes.io/name!=x", true),
    ])
    func matches(selector: String, expected: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(labels) == expected)
    }

    @Test(arguments: ["env in (prod", "env in prod", "bad key=x", "app=has space", "env in ()", "a)"])
    func refusesMalformedSelectors(selector: String) {
        #expect(throws: SelectorError.self) { _ = try LabelSelector(parsing: selector) }
    }
}

@Suite struct FieldSelectorTests {
    @Test func matchesNamesAndNamespaces() throws {
        let fields = ["metadata.name": "fraud", "metadata.namespace": "default"]
        #expect(try FieldSelector(parsing: "metadata.name=fraud").matches { fields[$0] })
        #expect(try FieldSelector(parsing: "metadata.name==fraud,metadata.namespace!=kube-system").matches { fields[$0] })
        #expect(try !FieldSelector(parsing: "metadata.namespace!=default").matches { fields[$0] })
        #expect(throws: SelectorError.self) { _ = try FieldSelector(parsing: "metadata.name") }
    }
}

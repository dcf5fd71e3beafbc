import ArgumentParser
import Foundation
import Manifests

/// `modelplane validate -f PATH`: checks manifests offline, with the same strict reading and
/// validation the API server applies.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check ModelDeployment manifests offline.",
        discussion: Help.text(
            """
            Reads YAML or JSON files, directories (*.yaml, *.yml, *.json, recursively) or standard input (-).
            Prints one line per problem as FILE:LINE:COLUMN: FIELD: MESSAGE on standard error and exits 1;
            exits 0 when every manifest is valid.
            """)
    )

    @Option(name: [.customShort("f"), .customLong("filename")], help: "A file, a directory, or - for standard input. Repeatable.")
    var paths: [String] = []

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one -f FILE|DIR|-") }
    }

    func run() throws {
        let set = ManifestReader().read(paths: paths)
        for problem in set.problems {
            FileHandle.standardError.write(Data("\(problem)\n".utf8))
        }
        if !set.problems.isEmpty {
            let noun = set.problems.count == 1 ? "problem" : "problems"
            FileHandle.standardError.write(Data("\(set.problems.count) \(noun) found\n".utf8))
            throw ExitCode(1)
        }
        if set.deployments.isEmpty {
            FileHandle.standardError.write(Data("no ModelDeployment manifests found in \(paths.joined(separator: ", "))\n".utf8))
            throw ExitCode(1)
        }
        for located in set.deployments {
            let md = located.deployment
            print("modeldeployment.modelplane.dev/\(md.metadata.name ?? "?") valid (\(located.location.file))")
        }
    }
}

/// `modelplane crd`: prints the CustomResourceDefinition, for `kubectl apply -f -`.
struct CRD: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the ModelDeployment CRD as YAML.",
        discussion: "Install it in a cluster with: modelplane crd | kubectl apply -f -"
    )

    func run() { print(CRDFile.render(), terminator: "") }
}

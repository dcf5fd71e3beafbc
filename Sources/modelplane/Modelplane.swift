import APIServer
import ArgumentParser
import Foundation
import ModelplaneAPI

@main
struct Modelplane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelplane",
        abstract: "A control plane for machine-learning models in production.",
        discussion: "Declare ModelDeployments (modelplane.dev/v1alpha1) in YAML; Modelplane makes serving backends match them.",
        version: ModelplaneVersion.current,
        subcommands: [
            Serve.self, ControllerCommand.self, Apply.self, Get.self, Describe.self, Delete.self, Diff.self, History.self, Rollback.self, Validate.self,
            Promote.self, Abort.self, PauseCommand.self, Resume.self, Retry.self, RolloutGroup.self, Sync.self, RouterCommand.self, Audit.self, CRD.self,
        ]
    )

    /// ArgumentParser's own `main`, ending with `_exit` instead of `exit`. `exit` runs global
    /// destructors, which tear down Foundation's state while other threads may still be finishing:
    /// releasing the API client wakes its libcurl thread to stop. One such race crashed
    /// `modelplane delete` (SIGSEGV in a lock Foundation had just destroyed) after it had done its
    /// work, and its buffered output was lost.
    static func main() async {
        // A write to a pipe whose reader has gone (git exiting before it read its input) is an
        // error the writer handles, not the end of the process. (Children start with every signal
        // at its default: Subprocess.)
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            terminate(0)
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            terminate(1)
        } catch  where foundationMessage(error) != nil {
            // A file a command read or wrote: one sentence, not Foundation's description.
            FileHandle.standardError.write(Data("error: \(plainMessage(error))\n".utf8))
            terminate(1)
        } catch {
            let code = exitCode(for: error)
            let text = fullMessage(for: error)
            if !text.isEmpty {
                if code == .success {
                    print(text)
                } else {
                    FileHandle.standardError.write(Data((text + "\n").utf8))
                }
            }
            terminate(code.rawValue)
        }
    }

    static func terminate(_ code: Int32) -> Never {
        fflush(nil)  // every output stream: what `print` buffered
        _exit(code)
    }
}

/// Help text as ArgumentParser should wrap it. It wraps at the terminal's width but keeps every
/// newline it is given, so a discussion written with line breaks in the source came out broken
/// mid-sentence ("…writes" / "DATA/kubeconfig" / "(the CA…"). Here the lines of a paragraph are
/// joined; blank lines between paragraphs stay, and indented lines (examples) stay as written.
enum Help {
    static func text(_ source: String) -> String {
        var out: [String] = []
        var paragraph: [String] = []
        func flush() {
            if !paragraph.isEmpty { out.append(paragraph.joined(separator: " ")) }
            paragraph = []
        }
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                flush()
                out.append("")
            } else if line.first == " " {
                flush()
                out.append(String(line))
            } else {
                paragraph.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        flush()
        return out.joined(separator: "\n")
    }
}

import APIServer
import ArgumentParser

@main
struct Modelplane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelplane",
        abstract: "A control plane for machine-learning models in production.",
        discussion: "Declare ModelDeployments (modelplane.dev/v1alpha1) in YAML; Modelplane makes serving backends match them.",
        version: ModelplaneVersion.current,
        subcommands: [
            Serve.self, ControllerCommand.self, Apply.self, Get.self, Describe.self, Delete.self, Diff.self, History.self, Rollback.self, Validate.self,
            Sync.self, Audit.self, CRD.self,
        ]
    )

}

enum ModelplaneVersion {
    static let current = "0.1.0-dev"
}

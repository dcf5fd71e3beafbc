import ModelplaneAPI

/// The text of `crds/modelplane.dev_modeldeployments.yaml`, which `modelplane crd` prints.
public enum CRDFile {
    public static let path = "crds/modelplane.dev_modeldeployments.yaml"

    public static func render() -> String {
        """
        # The ModelDeployment CustomResourceDefinition. Generated from the Swift schema by
        # `modelplane crd`; do not edit by hand (a test fails when this file and the generator differ).

        """ + YAMLWriter.render(CustomResourceDefinition.modelDeployment)
    }
}

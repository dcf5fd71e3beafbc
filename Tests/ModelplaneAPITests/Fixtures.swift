import ModelplaneAPI

enum Fixtures {
    static func triton(name: String = "fraud-detector", version: String = "3") -> ModelDeployment {
        ModelDeployment(
            name: name,
            spec: .init(
                model: .init(name: "fraud", version: version, uri: "/models/fraud"),
                backend: .init(triton: .init(url: "http://127.0.0.1:8000", modelConfig: .object(["max_batch_size": .int(8)])))
            )
        )
    }

    static func sagemaker() -> ModelDeployment {
        ModelDeployment(
            name: "churn",
            spec: .init(
                model: .init(name: "churn", version: "v2", uri: "s3://bucket/churn/model.tar.gz"),
                backend: .init(
                    sagemaker: .init(
                        region: "us-east-1", image: "123.dkr.ecr.us-east-1.amazonaws.com/img:1", executionRoleArn: "arn:aws:iam::123456789012:role/SageMaker",
                        instanceType: "ml.m5.large"))
            )
        )
    }
}

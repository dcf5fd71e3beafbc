"""The official Triton HTTP client (tritonclient[http]) against Modelplane's inference router.

    router_client.py URL MODEL VALUE

Checks the server is live and ready, the model ready, reads its metadata, then infers INPUT0 =
[VALUE] with binary tensor data (the client's default) and prints one JSON line: the model's
metadata name and versions, the answer's model_name, model_version and id, and OUTPUT0.
"""
import json, sys

import numpy as np
import tritonclient.http as httpclient

def main():
    url, model, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
    client = httpclient.InferenceServerClient(url=url.replace("http://", ""))
    assert client.is_server_live(), "not live"
    assert client.is_server_ready(), "not ready"
    assert client.is_model_ready(model), "model not ready"
    metadata = client.get_model_metadata(model)
    tensor = httpclient.InferInput("INPUT0", [1], "FP32")
    tensor.set_data_from_numpy(np.array([value], dtype=np.float32), binary_data=True)
    output = httpclient.InferRequestedOutput("OUTPUT0", binary_data=True)
    result = client.infer(model, [tensor], outputs=[output], request_id="req-42")
    response = result.get_response()
    print(json.dumps({
        "metadata": {"name": metadata["name"], "versions": metadata.get("versions")},
        "model_name": response["model_name"], "model_version": response["model_version"], "id": response.get("id"),
        "output": result.as_numpy("OUTPUT0").tolist(),
    }), flush=True)

if __name__ == "__main__":
    main()

"""Runs moto's server (SageMaker, STS, IAM) with real SigV4 verification, for the AWS tests.

    moto_peer.py [--no-auth]

Sets INITIAL_NO_AUTH_ACTION_COUNT so that only the peer's own setup runs unauthenticated, creates
an IAM user with an access key and a policy allowing everything, then prints
"READY <port> <access key id> <secret access key>". From then on moto answers 403
(SignatureDoesNotMatch, InvalidClientTokenId) to requests not signed with that key. stdin closing
stops it. With --no-auth, moto checks no signatures (for STS's unsigned AssumeRoleWithWebIdentity)
and prints "READY <port> none none".
"""
import json, os, socket, sys

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def main():
    no_auth = "--no-auth" in sys.argv
    if not no_auth:
        # The setup below makes exactly 3 calls (create user, put policy, create key).
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    from moto.server import ThreadedMotoServer
    import boto3
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    if no_auth:
        print(f"READY {port} none none", flush=True)
        sys.stdin.read()
        server.stop()
        return
    iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="modelplane")
    iam.put_user_policy(UserName="modelplane", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="modelplane")["AccessKey"]
    print(f"READY {port} {key['AccessKeyId']} {key['SecretAccessKey']}", flush=True)
    sys.stdin.read()
    server.stop()

if __name__ == "__main__":
    main()

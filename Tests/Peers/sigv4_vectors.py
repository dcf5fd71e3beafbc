"""Signs requests with botocore's SigV4Auth, for byte-for-byte comparison with our signer.

Reads one JSON case per line on stdin:
  {"method", "url", "headers": [[name, value], ...], "body": "<base64>", "service", "region",
   "accessKey", "secretKey", "token": null|str, "timestamp": "20150830T123600Z"}
and prints, per case, a JSON list of the [name, value] headers botocore's request carries after
add_auth (in its order).
"""
import base64, datetime, json, sys
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

def main():
    for line in sys.stdin:
        case = json.loads(line)
        moment = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
        # botocore (1.3x and later) reads the clock through get_current_datetime: freeze it.
        botocore.auth.get_current_datetime = lambda *args, **kwargs: moment
        request = AWSRequest(method=case["method"], url=case["url"], data=base64.b64decode(case["body"]))
        for name, value in case["headers"]:
            request.headers.add_header(name, value) if name in request.headers else request.headers.__setitem__(name, value)
        credentials = Credentials(case["accessKey"], case["secretKey"], case.get("token"))
        SigV4Auth(credentials, case["service"], case["region"]).add_auth(request)
        print(json.dumps([[name, value] for name, value in request.headers.items()]), flush=True)

if __name__ == "__main__":
    main()

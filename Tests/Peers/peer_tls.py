"""TLS options shared by the test peers: --cert/--key serve TLS, --client-ca requires client certificates."""
import ssl


def add_arguments(parser):
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")


def server_context(args):
    """An SSLContext for the options given, or None for plain HTTP."""
    if not args.cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)
    return context

// The subject of the certificate a TLS client presented (TLS_CLIENT_CA_FILE),
// for the call log. Read once per connection: every call on it has the same.
import { TLSSocket } from "node:tls";

const subjects = new WeakMap<object, string | undefined>();

/**
 * "CN=client, O=Example" for a connection (an HTTP/2 session or an HTTP/1.1
 * socket, see connectionOf) whose client presented a certificate; undefined
 * for any other.
 */
export function clientSubject(connection: object): string | undefined {
  if (subjects.has(connection)) return subjects.get(connection);
  const socket = connection instanceof TLSSocket ? connection : "socket" in connection ? connection.socket : undefined;
  const subject = socket instanceof TLSSocket ? socket.getPeerX509Certificate()?.subject.split("\n").join(", ") : undefined;
  subjects.set(connection, subject);
  return subject;
}

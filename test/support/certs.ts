import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throwaway PKI for TLS tests, made with the openssl CLI. */
export interface TestPki {
  dir: string;
  /** Paths of the CA certificate and the server's certificate and key (localhost, 127.0.0.1). */
  caCert: string;
  serverCert: string;
  serverKey: string;
  /**
   * Issues a client certificate whose subject CN (and DNS SAN) is `name`, with `alsoNames` as more DNS
   * SANs; `untrusted` signs it with a CA the server does not know.
   */
  client(name: string, untrusted?: boolean, alsoNames?: string[]): { cert: string; key: string };
  read(path: string): Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

function makeCa(dir: string, name: string): void {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.crt`], dir);
}

function issue(dir: string, ca: string, name: string, san: string, extendedUsage: string): { cert: string; key: string } {
  const base = `${name}-${ca}`;
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${base}.key`, "-out", `${base}.csr`], dir);
  writeFileSync(join(dir, `${base}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${extendedUsage}\n`);
  openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "2", "-extfile", `${base}.ext`, "-out", `${base}.crt`], dir);
  return { cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) };
}

/** Creates a CA, a server certificate, and a second CA for untrusted clients. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "capstan-pki-"));
  makeCa(dir, "ca");
  makeCa(dir, "rogue");
  const server = issue(dir, "ca", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    serverCert: server.cert,
    serverKey: server.key,
    client: (name, untrusted = false, alsoNames = []) =>
      issue(dir, untrusted ? "rogue" : "ca", name, [name, ...alsoNames].map((n) => `DNS:${n}`).join(","), "clientAuth"),
    read: (path) => readFileSync(path),
  };
}

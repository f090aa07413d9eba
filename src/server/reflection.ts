import { createRegistry, toBinary, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/proto/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/proto/grpc/reflection/v1alpha/reflection_pb.js";

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
// Answers are init shapes without type names, so the same one serialises as v1 or v1alpha.
type Answer = { case: string; value: unknown };

/**
 * gRPC server reflection, v1 and v1alpha, so `buf curl --list-services` and
 * grpcurl-style tools work with no local protos. Files are answered with
 * their transitive dependencies, serialised from the generated descriptors.
 */
export function registerReflection(router: ConnectRouter, services: DescService[]): void {
  const files = new Map<string, DescFile>();
  const add = (f: DescFile) => {
    if (files.has(f.name)) return;
    files.set(f.name, f);
    f.dependencies.forEach(add);
  };
  services.forEach((s) => add(s.file));
  const registry: Registry = createRegistry(...files.values());
  const names = services.map((s) => s.typeName);

  const answer = (req: Request): Answer => {
    const m = req.messageRequest;
    switch (m.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: names.map((name) => ({ name })) } };
      case "fileByFilename": {
        const f = files.get(m.value);
        return f ? withDeps(f) : notFound(`file "${m.value}" not found`);
      }
      case "fileContainingSymbol": {
        const symbol = m.value.replace(/^\./, "");
        const desc = registry.get(symbol) ?? registry.get(symbol.slice(0, symbol.lastIndexOf(".")));
        const file = desc && "file" in desc ? desc.file : undefined;
        return file ? withDeps(file) : notFound(`symbol "${m.value}" not found`);
      }
      case "fileContainingExtension": {
        const extendee = registry.getMessage(m.value.containingType);
        const ext = extendee && registry.getExtensionFor(extendee, m.value.extensionNumber);
        return ext ? withDeps(ext.file) : notFound(`extension ${m.value.extensionNumber} of "${m.value.containingType}" not found`);
      }
      case "allExtensionNumbersOfType": {
        const msg = registry.getMessage(m.value);
        if (!msg) return notFound(`type "${m.value}" not found`);
        const numbers: number[] = [];
        for (const t of registry) if (t.kind === "extension" && t.extendee.typeName === msg.typeName) numbers.push(t.number);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: msg.typeName, extensionNumber: numbers } };
      }
      default:
        return { case: "errorResponse", value: { errorCode: 3, errorMessage: "unknown request" } };
    }
  };

  const withDeps = (root: DescFile): Answer => {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(visit);
    };
    visit(root);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  };

  const notFound = (message: string): Answer => ({
    case: "errorResponse",
    value: { errorCode: 5, errorMessage: message },
  });

  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(req) as never };
      }
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        // v1alpha's messages have the same fields and numbers as v1's; only the type names differ.
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(req) as never };
      }
    },
  });
}

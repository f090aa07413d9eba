import { describe, expect, it } from "vitest";
import { serverUrls } from "../../src/capstan-agent/main.js";

describe("capstan-agent --server URLs", () => {
  it.each([
    { given: ["http://a:8080"], urls: ["http://a:8080"] },
    { given: ["http://a:8080,http://b:8080"], urls: ["http://a:8080", "http://b:8080"] },
    { given: ["http://a:8080", "https://b:8443, http://c:8080"], urls: ["http://a:8080", "https://b:8443", "http://c:8080"] },
    { given: ["http://a:8080,http://a:8080", "http://a:8080"], urls: ["http://a:8080"] },
  ])("$given gives $urls", ({ given, urls }) => {
    expect(serverUrls(given)).toEqual(urls);
  });

  it.each([
    { given: [], error: /an http:\/\/ or https:\/\/ URL is required/ },
    { given: [" , "], error: /an http:\/\/ or https:\/\/ URL is required/ },
    { given: ["http://a:8080,ftp://b"], error: /"ftp:\/\/b" is not an http/ },
    { given: ["cp.example:8080"], error: /"cp.example:8080" is not an http/ },
  ])("$given is refused naming --server", ({ given, error }) => {
    expect(() => serverUrls(given)).toThrow(error);
    expect(() => serverUrls(given)).toThrow(/^--server: /);
  });
});

// k6 scenarios for a deployment: k6 run -e BASE=http://host:8080 -e KEY=… -e LISTING=1 bench/k6/crm.js
// Pick one with -e SCENARIO=get_by_email|search_name|post_create|put_update|mixed (default mixed).
// Contacts bench<N>@example.com must exist for N below CONTACTS (bench/wrk/seed.lua makes them).
import http from "k6/http";
import { check } from "k6";

const BASE = __ENV.BASE || "http://localhost:8080";
const KEY = __ENV.KEY;
const LISTING = __ENV.LISTING || "1";
const CONTACTS = parseInt(__ENV.CONTACTS || "100000");
const SCENARIO = __ENV.SCENARIO || "mixed";

export const options = {
  scenarios: { load: { executor: "constant-vus", vus: parseInt(__ENV.VUS || "64"), duration: __ENV.DURATION || "30s" } },
  thresholds: { http_req_failed: ["rate<0.01"], http_req_duration: ["p(99)<50"] },
};

const auth = { headers: { Authorization: `Bearer ${KEY}` } };
const form = { headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/x-www-form-urlencoded" } };
const url = `${BASE}/crm/${LISTING}`;
const existingEmail = () => `bench${Math.floor(Math.random() * CONTACTS)}%40example.com`;
// Contact N's last name, as bench/wrk/common.lua's crm.last_name computes it.
const hex6 = (value) => value.toString(16).padStart(6, "0");
const lastName = (n) => hex6((n * 2654435761) % 16777216) + hex6((n * 40503 + 12345) % 16777216);
const namePiece = () => {
  const offset = Math.floor(Math.random() * 8);
  return lastName(Math.floor(Math.random() * CONTACTS)).substring(offset, offset + 5);
};

const scenarios = {
  get_by_email: () => http.get(`${url}?email=${existingEmail()}`, auth),
  search_name: () => http.get(`${url}?last_name=${namePiece()}&limit=20`, auth),
  post_create: () => http.post(url, `email=k6-${__VU}-${__ITER}-${Date.now()}%40example.com&first_name=K6`, form),
  put_update: () => http.put(url, `email=${existingEmail()}&first_name=K6${__ITER % 100}`, form),
  mixed: () => {
    const dice = Math.random() * 100;
    if (dice < 80) return scenarios.get_by_email();
    if (dice < 90) return scenarios.put_update();
    if (dice < 95) return scenarios.post_create();
    return scenarios.search_name();
  },
};

export default function () {
  const response = scenarios[SCENARIO]();
  check(response, { "answered without error": (r) => r.status < 500 && r.status !== 429 });
}

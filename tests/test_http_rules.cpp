// http.fault's rules as the loader reads them: one test per message a user can meet, with its exact text.
#include <catch2/catch.hpp>

#include "helpers.hpp"

using test::only_error;

namespace {

// An experiment whose one step is an http.fault with `body` (the step's keys start on line 13).
std::string http_step(const std::string& body) {
  return "name = \"t\"\n[[targets]]\nname = \"svc\"\npid = 1\n[[probes]]\nname = \"health\"\ntype = \"http\"\n"
         "url = \"http://127.0.0.1:1/\"\n[[method]]\nduration = \"5s\"\ntype = \"http.fault\"\ntarget = \"svc\"\n" + body;
}

}  // namespace

TEST_CASE("http.fault rules: valid single and listed rules load", "[unit][validation][http_fault]") {
  CHECK(test::errors_for(http_step("path = \"^/api/\"\naction = \"abort\"\nstatus = 503\n")).empty());
  CHECK(test::errors_for(http_step("rules = [\n  { method = \"post\", headers = { \"x-user\" = \"^beta\" }, action = "
                                   "\"delay\", delay = \"200ms\", phase = \"response\" },\n  { action = \"replace\", "
                                   "body = \"{}\", set_headers = { \"content-type\" = \"application/json\" } },\n"
                                   "  { host = \"^api\\\\.\", action = \"reset\", probability = 0.1 },\n]\n"))
            .empty());
}

TEST_CASE("http.fault rules: a bad path regex names the rule's key", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("rules = [{ path = \"(unclosed\", action = \"reset\" }]\n")) ==
        "exp.toml:13:19: error: method[0].rules[0].path: invalid regular expression (RE2 syntax): missing ): (unclosed");
}

TEST_CASE("http.fault rules: an unknown action", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"drop\"\n")) ==
        "exp.toml:13:10: error: method[0].action: unknown action 'drop': use abort, reset, delay or replace");
}

TEST_CASE("http.fault rules: a status outside 200-599", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("rules = [{ action = \"abort\", status = 99 }]\n")) ==
        "exp.toml:13:39: error: method[0].rules[0].status: 99 is not a final HTTP status: use 200 to 599 (e.g. 503)");
}

TEST_CASE("http.fault rules: abort without a status", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"abort\"\n")) == "exp.toml:9:1: error: method[0].status: missing required key (add status = <an integer>)");
}

TEST_CASE("http.fault rules: a key of another action", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"reset\"\nstatus = 500\n")) ==
        "exp.toml:14:10: error: method[0].status: action \"reset\" takes no status");
}

TEST_CASE("http.fault rules: a delay of zero", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"delay\"\ndelay = \"0s\"\n")) ==
        "exp.toml:14:9: error: method[0].delay: use a duration above 0 and up to 1h, e.g. \"200ms\"");
}

TEST_CASE("http.fault rules: an unknown delay phase", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"delay\"\ndelay = \"1s\"\nphase = \"both\"\n")) ==
        "exp.toml:15:9: error: method[0].phase: unknown phase 'both': use \"request\" (before the request is "
        "forwarded) or \"response\" (before the response is returned)");
}

TEST_CASE("http.fault rules: replace with nothing to replace", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"replace\"\n")) ==
        "exp.toml:13:10: error: method[0].action: replace needs something to replace: status, body or set_headers");
}

TEST_CASE("http.fault rules: header values that are not strings", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"reset\"\nheaders = { \"x-user\" = 3 }\n")) ==
        "exp.toml:14:11: error: method[0].headers: header 'x-user': expected a regular expression as a string, e.g. "
        "\"^beta\"");
  CHECK(only_error(http_step("action = \"replace\"\nset_headers = { \"x-fault\" = true }\n")) ==
        "exp.toml:14:15: error: method[0].set_headers: header 'x-fault': expected a string value");
}

TEST_CASE("http.fault rules: one rule and a list at once", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"reset\"\nrules = [{ action = \"reset\" }]\n")) ==
        "exp.toml:13:10: error: method[0].action: give either one rule (action = \"...\" with its keys) or a list "
        "(rules = [...]), not both");
}

TEST_CASE("http.fault rules: an empty list and an item that is not a table", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("rules = []\n")) ==
        "exp.toml:13:9: error: method[0].rules: the list is empty: add at least one { action = \"...\" }");
  CHECK(only_error(http_step("rules = [\"abort\"]\n")) ==
        "exp.toml:13:9: error: method[0].rules: item 1 is string 'abort', not a table such as { path = \"^/api/\", "
        "action = \"abort\", status = 503 }");
}

TEST_CASE("http.fault rules: a probability above 1", "[unit][validation][http_fault]") {
  CHECK(only_error(http_step("action = \"reset\"\nprobability = 1.5\n")) ==
        "exp.toml:14:15: error: method[0].probability: 1.5 is not a probability: use a number from 0 to 1 (0.3 for 30%)");
}

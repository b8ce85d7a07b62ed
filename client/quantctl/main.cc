// quantctl: submit, watch and manage quantd jobs. The verbs arrive with
// issue 7; `version` works now.
#include <iostream>

#include "CLI/CLI.hpp"

int main(int argc, char** argv) {
  CLI::App app{"quantctl: the quantd command-line client"};
  app.require_subcommand(1);
  app.add_subcommand("version", "print the client version")->callback([] {
    std::cout << "quantctl 0.1.0\n";
  });
  CLI11_PARSE(app, argc, argv);
  return 0;
}

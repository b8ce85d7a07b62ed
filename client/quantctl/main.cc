// quantctl: submit, watch and manage quantd jobs. All logic lives in the
// quantd_client library (client/quantctl/cli.h).
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "client/quantctl/cli.h"
#include "client/quantctl/terminal.h"

int main(int argc, char** argv) {
  // A closed pipe (quantctl list | head) ends the process quietly.
  std::signal(SIGPIPE, SIG_DFL);
  quantd::client::Io io{std::cout, std::cerr,
                        quantd::client::DetectTerminal(STDOUT_FILENO),
                        quantd::client::DetectTerminal(STDERR_FILENO)};
  return quantd::client::RunQuantctl(argc, argv, io, quantd::ProcessEnv());
}

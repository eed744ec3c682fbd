// Builds the Arduino sketch against Arduino.h here and runs setup() and loop() once each.
#include "Arduino.h"
#include "../sugarglass_receiver/sugarglass_receiver.ino"

int main() {
  setup();
  loop();
  return 0;
}

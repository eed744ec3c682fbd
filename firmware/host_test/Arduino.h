// Just enough of the Arduino API to compile sugarglass_receiver.ino on a host (a syntax and
// type check of the sketch, run by tests/test_receiver.py); it drives nothing.
#pragma once
#include <stdint.h>

const uint8_t OUTPUT = 1;
struct SerialPort {
  void begin(unsigned long) {}
  int available() { return 0; }
  int read() { return -1; }
};
static SerialPort Serial;
inline unsigned long millis() { return 0; }
inline void pinMode(uint8_t, uint8_t) {}
inline void analogWrite(uint8_t, int) {}

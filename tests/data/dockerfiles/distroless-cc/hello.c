#include <stdio.h>

int main(void) {
    printf("Hello, world! (built " __DATE__ " " __TIME__ ")\n");
    return 0;
}

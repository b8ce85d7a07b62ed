
file://@/tinyrtn
w8a8*@

file://@/tiny	omniquant
w4a42mse*@R
cuda
print("modelplane")

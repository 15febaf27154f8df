from itsdangerous import URLSafeSerializer

print(URLSafeSerializer("secret").dumps({"hello": "world"}))
